// A lock holder in a process of its own, for tests that need a second
// process, user or "machine" (SNAPKEEP_TEST_MACHINE_ID): the real locks.ts
// as built (out/js). Usage: node lock-holder.mjs <repo> <shared|exclusive> <operation>
// Prints one line per event as JSON: {"event":"acquired"} or
// {"event":"refused",code,reason}; then answers stdin lines:
//   assert   -> {"event":"held"} or {"event":"lost",code,reason,message}
//   release  -> releases, prints {"event":"released"} and exits
// and prints {"event":"lost",...} by itself when its monitor gives up.
import { createRequire } from 'node:module';
import * as readline from 'node:readline';

const require = createRequire(import.meta.url);
const { acquireLock } = require('../../out/js/electron/core/engine/locks.js');
const [repo, kind, operation] = process.argv.slice(2);
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const info = (e) => ({ code: e && e.code, reason: e && e.details && e.details.reason, message: e && e.message });

acquireLock(repo, kind, operation).then(
  (lock) => {
    say({ event: 'acquired', pid: process.pid });
    lock.signal.addEventListener('abort', () => say({ event: 'lost', ...info(lock.signal.reason) }));
    const rl = readline.createInterface({ input: process.stdin });
    rl.on('line', (line) => {
      if (line === 'assert')
        lock.assertHeld().then(
          () => say({ event: 'held' }),
          (e) => say({ event: 'lost', ...info(e) }),
        );
      else if (line === 'release')
        lock.release().then(() => {
          say({ event: 'released' });
          process.exit(0);
        });
    });
    // Keep running until told (stdin closing means the test is gone).
    rl.on('close', () => lock.release().finally(() => process.exit(0)));
  },
  (e) => {
    say({ event: 'refused', ...info(e) });
    process.exit(3);
  },
);
