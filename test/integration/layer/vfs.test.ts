import { VfsDriver } from '../../../src/layer/vfs-driver.js';
import { graphDriverSuite } from './graph-driver-suite.js';

graphDriverSuite('vfs', {
  make: (root) => new VfsDriver({ root }),
  skip: process.getuid?.() === 0 ? false : 'needs root for device nodes and ownership',
});
