/**
 * The script-tag entry: `<script src=".../inpage.iife.js"></script>` puts the whole public API on
 * `globalThis.inpage` (Vite's IIFE build assigns this module's exports to that global).
 */
export * from './index';
