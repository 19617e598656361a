/** Child process of the bench: open an NTFS image, compute its allocation map, print figures as JSON. */
import { openFileDevice } from '../../src/index.ts';
import { openNtfs } from '../../src/fs/ntfs/ntfs-volume.ts';

const started = performance.now();
const device = await openFileDevice(process.argv[2]!);
const volume = await openNtfs(device);
const map = await volume.allocationMap();
const usedClusters = await volume.usedClusters();
const ms = performance.now() - started;
process.stdout.write(`${JSON.stringify({ usedClusters, extents: map.count, bytes: map.bytes, ms })}\n`);
await device.close();
