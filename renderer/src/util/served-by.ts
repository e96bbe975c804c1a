// Who answers, said the same way on the dashboard and in Settings, from
// what the service reports about itself (SystemInfo.service): the system
// service, or the service in this session as root or not.
import type { SystemInfo } from '@common/contract';

export function servedByWords(info: SystemInfo): string {
  if (info.backend === 'helper') return 'the Snapkeep system service (root)';
  const schedules = info.service?.schedules === 'while-running' ? '; schedules run only while this session runs' : '';
  if (info.service?.root) return `this session, as root, without the system service${schedules}`;
  return `this session, without root: disks in use and backups on schedule with nobody logged in need the system service${schedules}`;
}
