/** What a RUN step's container is made of. */
export interface StepContainerSpec {
  /** Id of a registered image (the step's parent). */
  image: string;
  /** The argv to run (the image's entrypoint is not used). */
  cmd: string[];
  env: string[];
  user: string;
  workingDir: string;
  /** `default`, `host`, `none` or another network mode the container service knows. */
  networkMode: string;
  extraHosts: string[];
  shmSize?: number;
}

/**
 * The builder runs RUN steps through this port; the daemon plugs in the container service, so
 * build steps take the same runtime path as `run`. The container's rw layer keeps its id, which
 * the builder commits through the layer store.
 */
export interface BuildContainerPort {
  create(spec: StepContainerSpec): Promise<string>;
  /** Starts the container, streams its output, resolves with its exit code. */
  run(id: string, onOutput: (data: Buffer) => void, signal?: AbortSignal): Promise<number>;
  remove(id: string): Promise<void>;
  /** Removes step containers a daemon crash left behind (builds do not survive restarts). */
  removeLeftovers(): Promise<number>;
}

/** A pull's progress message, as Docker's JSON progress stream carries it. */
export interface PullProgress {
  status?: string;
  id?: string;
  progressDetail?: { current?: number; total?: number };
  progress?: string;
}

/**
 * The builder pulls missing `FROM` and `COPY --from` images (and `--pull` base images) through
 * this port; the daemon plugs in the registry client.
 */
export interface BuildPullPort {
  /**
   * Pulls `ref` (as the Dockerfile names it), writing Docker's progress messages to `out`.
   * `authConfigs` is the build's `X-Registry-Config` (credentials by registry address).
   */
  pull(ref: string, opts: { out: (m: PullProgress) => void; authConfigs: Record<string, unknown>; platform?: string; signal?: AbortSignal }): Promise<void>;
}
