// Plain tsc (npm run typecheck, test project) does not read .vue files;
// vue-tsc checks the components themselves (renderer project).
declare module '*.vue' {
  import type { DefineComponent } from 'vue';
  const component: DefineComponent<Record<string, unknown>, Record<string, unknown>, unknown>;
  export default component;
}
