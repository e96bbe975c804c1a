import 'primeicons/primeicons.css';
import './styles/app.css';

import Aura from '@primeuix/themes/aura';
import { createPinia } from 'pinia';
import PrimeVue from 'primevue/config';
import ToastService from 'primevue/toastservice';
import Tooltip from 'primevue/tooltip';
import { createApp } from 'vue';

import App from './App.vue';
import { router } from './router';

createApp(App)
  .use(createPinia())
  .use(router)
  // Light theme only for now: dark mode follows no selector.
  .use(PrimeVue, { theme: { preset: Aura, options: { darkModeSelector: '.snapkeep-dark' } } })
  .use(ToastService)
  .directive('tooltip', Tooltip)
  .mount('#app');
