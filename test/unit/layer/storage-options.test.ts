import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkContainerStorageOpt, checkStorageOptions } from '../../../src/layer/storage-options.js';
import { EngineError, InvalidParameterError, NotImplementedError } from '../../../src/common/errors.js';

test('overlay2 storage options: override_kernel_check accepted with a warning, size needs xfs quotas, others unknown', () => {
  assert.deepEqual(checkStorageOptions('overlay2', [], 'extfs'), []);
  assert.equal(checkStorageOptions('overlay2', ['Overlay2.Override_Kernel_Check = true'], 'extfs').length, 1);
  assert.throws(() => checkStorageOptions('overlay2', ['overlay2.override_kernel_check=maybe'], 'extfs'), /strconv.ParseBool: parsing "maybe": invalid syntax/);
  assert.throws(() => checkStorageOptions('overlay2', ['overlay2.size=10G'], 'extfs'), { message: 'Storage Option overlay2.size only supported for backingFS XFS. Found extfs' });
  assert.throws(() => checkStorageOptions('overlay2', ['overlay2.size=10G'], 'xfs'), /^EngineError: Storage option overlay2.size not supported. Filesystem does not support Project Quota/);
  assert.throws(() => checkStorageOptions('overlay2', ['overlay2.size=lots'], 'extfs'), { message: "invalid size: 'lots'" });
  assert.throws(() => checkStorageOptions('overlay2', ['dm.basesize=20G'], 'extfs'), { message: 'overlay2: unknown option dm.basesize' });
  assert.throws(() => checkStorageOptions('overlay2', ['novalue'], 'extfs'), { message: 'unable to parse key/value option: novalue' });
  assert.throws(() => checkStorageOptions('vfs', ['overlay2.size=1G'], 'extfs'), { message: 'unknown option overlay2.size for vfs' });
  assert.throws(() => checkStorageOptions('vfs', ['size=1G'], 'extfs'), { message: 'failed to set option size for vfs: Filesystem does not support, or has not enabled quotas' });
});

test('a container storage-opt is refused as Docker\'s drivers refuse it without quotas', () => {
  checkContainerStorageOpt('overlay2', {});
  checkContainerStorageOpt('overlay2', null);
  assert.throws(() => checkContainerStorageOpt('overlay2', { size: '1G' }), (e: unknown) => e instanceof EngineError && !(e instanceof InvalidParameterError)
    && e.message === "--storage-opt is supported only for overlay over xfs with 'pquota' mount option");
  assert.throws(() => checkContainerStorageOpt('vfs', { size: '1G' }), (e: unknown) => e instanceof NotImplementedError);
  assert.throws(() => checkContainerStorageOpt('vfs', { foo: 'x' }), { message: 'Storage opt foo not supported' });
});
