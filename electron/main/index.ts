// Electron main: app lifecycle, the window, the tray agent, notifications
// and the desktop-only methods. Kept thin: the decisions live in plain
// modules tested without Electron (agent, tray-model, notifications,
// autostart, installer, app-settings, shell-backend).
import '../core/files/threadpool';
import { app } from 'electron';
import * as sudo from 'sudo-prompt';

import { RpcClient } from '../common/rpc/client';
import { probeHelper, selectBackend, type SelectedBackend } from '../helper/select-backend';
import { TrayAgent } from './agent';
import { AppSettingsStore } from './app-settings';
import { applyAutostart, HIDDEN_ARG, launchCommand } from './autostart';
import { inProcessTransport } from './in-process-transport';
import { helperCommand, runInstaller, type ExecOutcome } from './installer';
import { initLogging } from './logging';
import { showNotification } from './notify';
import { appPaths } from './paths';
import { hardenSessions } from './security';
import { ShellBackend } from './shell-backend';
import { AppTray } from './tray';
import type { TrayAction } from './tray-model';
import { createMainWindow, isAppUrl, type MainWindow, RENDERER_INDEX } from './window';
import type { InstallResult } from '../common/contract/app';

function sudoExec(command: string): Promise<ExecOutcome> {
  return new Promise((resolve) => {
    sudo.exec(command, { name: 'Snapkeep' }, (error, stdout, stderr) =>
      resolve({ ...(error && { error }), stdout: String(stdout ?? ''), stderr: String(stderr ?? '') }),
    );
  });
}

function main(): void {
  if (!app.requestSingleInstanceLock()) {
    app.quit();
    return;
  }
  const paths = appPaths();
  const log = initLogging(paths.logDir);
  const startHidden = process.argv.includes(HIDDEN_ARG);
  const settings = new AppSettingsStore(paths.settingsFile);
  const launch = launchCommand({ isPackaged: app.isPackaged, execPath: process.execPath, appPath: app.getAppPath(), env: process.env });
  settings.onChange((next, previous) =>
    next.startAtLogin === previous.startAtLogin ? undefined : applyAutostart(paths.autostartFile, next.startAtLogin, launch),
  );

  let installing: Promise<InstallResult> | null = null;
  const install = (): Promise<InstallResult> => {
    installing ??= (async () => {
      const client = new RpcClient(await inProcessTransport(backend));
      try {
        const command = helperCommand({ isPackaged: app.isPackaged, execPath: process.execPath, resourcesPath: process.resourcesPath, appPath: app.getAppPath() });
        const result = await runInstaller({ exec: sudoExec, command, moduleStatus: () => client.call('module.status', {}) });
        log.info(`module install: ${result.outcome} (exit ${String(result.exitCode)})`);
        // The helper runs now: move to it once the answer has left.
        if (result.outcome === 'installed' && service?.backend.kind !== 'helper') setImmediate(() => void switchService());
        return result;
      } finally {
        client.close();
        installing = null;
      }
    })();
    return installing;
  };
  // The service: the root helper when it answers on its socket, else the
  // service in this process with the user's directories (chosen at start).
  let service: SelectedBackend | null = null;
  const backend = new ShellBackend(
    {
      get kind() {
        return service?.backend.kind ?? 'local';
      },
      openSession: (push) => {
        if (!service) throw new Error('the service is not selected yet');
        return service.backend.openSession(push);
      },
    },
    {
      'app.settings.get': () => settings.get(),
      'app.settings.update': (patch) => settings.update(patch),
      'app.module.install': () => install(),
    },
    (method, error) => log.error(`${method} failed`, error),
  );

  let quitting = false;
  let mainWindow: MainWindow | null = null;
  let opening: Promise<MainWindow> | null = null;
  /** Shows the window; `route` opens that page (the tray's "Back up now" into a locked repository: /jobs?run=<id>). */
  const showWindow = async (route?: string): Promise<void> => {
    if (!mainWindow) {
      opening ??= createMainWindow(backend, () => quitting);
      mainWindow = await opening;
      opening = null;
      mainWindow.win.on('closed', () => (mainWindow = null));
      if (route) await mainWindow.win.loadFile(RENDERER_INDEX, { hash: route });
      return; // shown on ready-to-show
    }
    const { win } = mainWindow;
    if (route) await win.loadFile(RENDERER_INDEX, { hash: route });
    if (win.isMinimized()) win.restore();
    win.show();
    win.focus();
  };
  const open = () => void showWindow(undefined).catch((e: unknown) => log.error('cannot open the window', e));

  let tray: AppTray | null = null;
  let agent: TrayAgent | null = null;
  const startAgent = async (): Promise<void> => {
    agent?.stop();
    agent = new TrayAgent({
      backend,
      settings: () => settings.get(),
      onModel: (model) => tray?.update(model),
      onNotify: (n) => showNotification(n, open),
      log: (message) => log.warn(message),
    });
    await agent.start().catch((e: unknown) => log.error('tray agent did not start', e));
  };
  /** After the installer: the helper serves from now on; the in-process service stops. */
  const switchService = async (): Promise<void> => {
    // Only to the helper: a second in-process service on the same
    // directories would run the schedules twice.
    const ready = await probeHelper().then(
      () => true,
      (e: unknown) => (log.warn(`after installing, the helper does not answer: ${e instanceof Error ? e.message : String(e)}`), false),
    );
    if (!ready) return;
    const old = service;
    service = await selectBackend();
    await startAgent();
    await mainWindow?.rebind();
    await old?.close();
  };
  const onAction = (action: TrayAction): void => {
    if (action.type === 'open') open();
    else if (action.type === 'quit') app.quit();
    else
      agent
        ?.backupNow(action.jobId)
        .then((r) => (r === 'needs-passphrase' ? showWindow(`/jobs?run=${encodeURIComponent(action.jobId)}`) : undefined))
        .catch((e: unknown) => log.error('back up now failed', e));
  };

  app.on('second-instance', open);
  // Quitting waits for the in-process service to stop: running tasks are
  // cancelled and clean up (snapshots, storage files, locks) before exit.
  let stopped = false;
  app.on('before-quit', (event) => {
    quitting = true;
    if (stopped) return;
    event.preventDefault();
    agent?.stop();
    tray?.destroy();
    void (service?.close() ?? Promise.resolve())
      .catch((e: unknown) => log.error('stopping the service', e))
      .finally(() => {
        stopped = true;
        app.quit();
      });
  });
  // The tray keeps the app running with no window; quitting is explicit.
  app.on('window-all-closed', () => undefined);

  void app.whenReady().then(async () => {
    hardenSessions(isAppUrl);
    await settings.load();
    service = await selectBackend();
    if (service.note) log.warn(service.note);
    tray = new AppTray(onAction);
    await startAgent();
    if (!startHidden) open();
    log.info(`Snapkeep ${app.getVersion()} started${startHidden ? ' in the tray' : ''}`);
  });
}

main();
