/** Engine API versions this code base speaks (see API-NOTES.md §1). */
export const API_VERSION = '1.44';
export const MIN_API_VERSION = '1.24';
export const DEFAULT_HOST = 'unix:///run/berth/berth.sock';
export const MEDIA_TYPE_RAW_STREAM = 'application/vnd.docker.raw-stream';
export const MEDIA_TYPE_MULTIPLEXED_STREAM = 'application/vnd.docker.multiplexed-stream';
