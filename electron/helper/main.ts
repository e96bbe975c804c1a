#!/usr/bin/env node
// snapkeep-helper: the privileged service (root). It installs the kernel
// module, serves the contract on /run/snapkeep/helper.sock to root and the
// snapkeep group, and runs and schedules jobs. See docs/helper.md.
import { APP_VERSION } from '../common/version';
import { moduleStatus } from '../core/system/module-status';

async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  switch (command) {
    case '--version':
    case 'version':
      console.log(APP_VERSION);
      return 0;
    case 'check':
      console.log(JSON.stringify(await moduleStatus(), null, 2));
      return 0;
    default:
      console.error('usage: snapkeep-helper version|check');
      return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
