// Smoke test of the module's life cycle on a raw disk: attach through
// create, storage on a second disk, take, overwrite the original, the image
// still shows the data of the take; destroy, detach, unload.
// vm: disks=128M,128M timeout=300
import { check, devsum, disks, insmod, kmod, log, rmmod, sh, wholeDevice } from '../helpers/kmodlib.mjs';

const [orig, store] = disks;
insmod();
sh('dd', 'if=/dev/urandom', `of=${orig}`, 'bs=1M', 'count=64', 'oflag=direct', 'status=none');
const ref = devsum(orig);
log(`reference ${ref}`);

const id = await kmod.create([orig]);
log(`created ${id}`);
await kmod.appendStorage(id, store, wholeDevice(store));
await kmod.take(id);
const image = await kmod.imagePath(id, orig);
log(`taken, image ${image}`);
const info = await kmod.trackerInfo(orig);
log(`tracker ${JSON.stringify(info)}`);
check(info.number === 1, 'number is 1 after the first take');

sh('dd', 'if=/dev/urandom', `of=${orig}`, 'bs=1M', 'count=16', 'seek=8', 'oflag=direct', 'status=none');
sh('dd', 'if=/dev/urandom', `of=${orig}`, 'bs=4k', 'count=100', 'seek=20000', 'oflag=direct', 'status=none');
check(devsum(orig) !== ref, 'the original changed');
const got = devsum(image);
log(`image ${got}`);
check(got === ref, 'image equals the original at take time');
log(JSON.stringify(await kmod.info(id)));
await kmod.destroy(id);
await kmod.detach(orig);
rmmod();
log('ok');
