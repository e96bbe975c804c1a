import { createRouter, createWebHashHistory, type RouteRecordRaw } from 'vue-router';

// Hash history: the same build works from file:// (Electron) and http (web mode).
export const routes: RouteRecordRaw[] = [
  { path: '/', name: 'dashboard', component: () => import('@/views/DashboardView.vue'), meta: { title: 'Dashboard' } },
];

export const router = createRouter({ history: createWebHashHistory(), routes });
