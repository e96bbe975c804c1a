// js-yaml ships without typings; the packaging test only parses.
declare module 'js-yaml' {
  export function load(text: string): unknown;
}
