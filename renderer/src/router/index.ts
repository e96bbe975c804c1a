import { createRouter, createWebHashHistory, type RouteRecordRaw } from 'vue-router';

declare module 'vue-router' {
  interface RouteMeta {
    /** Shown in the navigation and the window title. */
    title?: string;
    /** primeicons class of the navigation entry. */
    icon?: string;
    /** Listed in the navigation. */
    nav?: boolean;
  }
}

// Hash history: the same build works from file:// (Electron) and http (web mode).
export const routes: RouteRecordRaw[] = [
  { path: '/', name: 'dashboard', component: () => import('@/views/DashboardView.vue'), meta: { title: 'Dashboard', icon: 'pi pi-home', nav: true } },
  { path: '/devices', name: 'devices', component: () => import('@/views/DevicesView.vue'), meta: { title: 'Devices', icon: 'pi pi-server', nav: true } },
  { path: '/checkpoints', name: 'checkpoints', component: () => import('@/views/CheckpointsView.vue'), meta: { title: 'Checkpoints', icon: 'pi pi-flag', nav: true } },
  { path: '/jobs', name: 'jobs', component: () => import('@/views/JobsView.vue'), meta: { title: 'Jobs', icon: 'pi pi-calendar', nav: true } },
  { path: '/jobs/new', name: 'job-new', component: () => import('@/views/JobEditView.vue'), meta: { title: 'New job' } },
  { path: '/jobs/:id/edit', name: 'job-edit', component: () => import('@/views/JobEditView.vue'), props: true, meta: { title: 'Edit job' } },
  { path: '/points', name: 'points', component: () => import('@/views/PointsView.vue'), meta: { title: 'Restore points', icon: 'pi pi-history', nav: true } },
  { path: '/restore', name: 'restore', component: () => import('@/views/RestoreView.vue'), meta: { title: 'Restore', icon: 'pi pi-replay', nav: true } },
  { path: '/files', name: 'files', component: () => import('@/views/FilesView.vue'), meta: { title: 'File restore', icon: 'pi pi-folder-open', nav: true } },
  { path: '/logs', name: 'logs', component: () => import('@/views/LogsView.vue'), meta: { title: 'Logs and history', icon: 'pi pi-list', nav: true } },
  { path: '/settings', name: 'settings', component: () => import('@/views/SettingsView.vue'), meta: { title: 'Settings', icon: 'pi pi-cog', nav: true } },
  { path: '/setup', name: 'setup', component: () => import('@/views/SetupView.vue'), meta: { title: 'Setup' } },
  { path: '/:pathMatch(.*)*', redirect: '/' },
];

export const router = createRouter({ history: createWebHashHistory(), routes });

router.afterEach((to) => {
  document.title = to.meta.title ? `${to.meta.title} · Snapkeep` : 'Snapkeep';
});
