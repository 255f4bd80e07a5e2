import type { ContainerService } from '../container/index.js';
import type { BuildContainerPort, StepContainerSpec } from '../build/index.js';

/** Marks the containers of build steps, so leftovers of a crash can be found at start-up. */
const STEP_LABEL = 'com.berth.build.step';

/** The builder's port onto the container service: RUN steps take the same path as `run`. */
export function buildContainers(containers: ContainerService): BuildContainerPort {
  return {
    async create(spec: StepContainerSpec): Promise<string> {
      const hostConfig: Record<string, unknown> = { NetworkMode: spec.networkMode, ExtraHosts: spec.extraHosts };
      if (spec.shmSize) hostConfig['ShmSize'] = spec.shmSize;
      const { id } = await containers.create({
        Image: spec.image,
        Cmd: spec.cmd,
        Entrypoint: [],
        Env: spec.env,
        User: spec.user,
        WorkingDir: spec.workingDir,
        Labels: { [STEP_LABEL]: 'true' },
        AttachStdout: true,
        AttachStderr: true,
        HostConfig: hostConfig,
      }, {});
      return id;
    },
    async run(id: string, onOutput: (data: Buffer) => void, signal?: AbortSignal): Promise<number> {
      const exited = containers.wait(id, 'next-exit');
      await containers.start(id);
      const abort = (): void => { void containers.kill(id, 'KILL').catch(() => undefined); };
      signal?.addEventListener('abort', abort, { once: true });
      try {
        for await (const entry of containers.logs(id, { follow: true, stdout: true, stderr: true })) onOutput(entry.data);
        return (await exited).StatusCode;
      } finally {
        signal?.removeEventListener('abort', abort);
      }
    },
    async remove(id: string): Promise<void> {
      await containers.remove(id, { force: true, volumes: true });
    },
    async removeLeftovers(): Promise<number> {
      let n = 0;
      for (const rec of containers.all()) {
        if (rec.config.Labels?.[STEP_LABEL] !== 'true') continue;
        await containers.remove(rec.id, { force: true, volumes: true }).then(() => { n++; }, () => undefined);
      }
      return n;
    },
  };
}
