import { randomInt } from 'node:crypto';

const LEFT = [
  'agile', 'amber', 'ample', 'bold', 'brave', 'brisk', 'calm', 'clever', 'cosmic', 'crisp', 'daring', 'eager',
  'earnest', 'fervent', 'fluent', 'gentle', 'gleaming', 'hardy', 'honest', 'humble', 'jolly', 'keen', 'lively',
  'lucid', 'mellow', 'merry', 'nimble', 'noble', 'patient', 'placid', 'plucky', 'quiet', 'radiant', 'rapid',
  'serene', 'sharp', 'sleek', 'snappy', 'spry', 'steady', 'sturdy', 'sunny', 'swift', 'tidy', 'upbeat',
  'vivid', 'warm', 'witty', 'zealous', 'zesty',
];

const RIGHT = [
  'anchor', 'barge', 'beacon', 'bollard', 'brig', 'buoy', 'cable', 'canal', 'capstan', 'cargo', 'clipper',
  'compass', 'corsair', 'cove', 'crane', 'cutter', 'dinghy', 'dock', 'ferry', 'frigate', 'galley', 'harbor',
  'hawser', 'helm', 'hull', 'jetty', 'keel', 'ketch', 'lagoon', 'lantern', 'lighthouse', 'marina', 'mast',
  'mooring', 'pier', 'pilot', 'port', 'quay', 'rudder', 'schooner', 'sextant', 'skiff', 'sloop', 'tender',
  'tide', 'tugboat', 'wharf', 'windlass', 'yacht', 'yawl',
];

/** A random `adjective_noun` container name; `retry` > 0 appends a digit as Docker does. */
export function generateName(retry = 0): string {
  const name = `${LEFT[randomInt(LEFT.length)]}_${RIGHT[randomInt(RIGHT.length)]}`;
  return retry > 0 ? `${name}${randomInt(10)}` : name;
}
