// Store state leaves a store read-only: views cannot assign it, and Vue's
// readonly proxy refuses (and warns about) deep changes at run time too.
// The type stays the contract's own type (not DeepReadonly), so state can
// be handed to functions that take contract objects without casts.
import { readonly, type Ref } from 'vue';

export function ro<T>(state: Ref<T>): Readonly<Ref<T>> {
  return readonly(state) as Readonly<Ref<T>>;
}
