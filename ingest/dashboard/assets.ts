// The dashboard's page, script and stylesheet, all served by the worker (no other origin). The bundled
// worker (stacks/worker-bundle.ts) carries them built, as POWERHOUSE_DASHBOARD_ASSETS; run from source (npm
// start, the tests) they are built with esbuild on first use and kept for the life of the process.
import { createHash } from 'node:crypto';

export interface DashboardAssets {
  readonly html: string;
  readonly js: string;
  readonly css: string;
}

export interface ServedAsset {
  readonly body: Buffer;
  readonly type: string;
  /** Strong validator for If-None-Match: the content's SHA-256. */
  readonly etag: string;
}

declare const POWERHOUSE_DASHBOARD_ASSETS: DashboardAssets | undefined;

let served: Promise<Record<'html' | 'js' | 'css', ServedAsset>> | undefined;

const TYPES = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
} as const;

async function load(): Promise<DashboardAssets> {
  if (typeof POWERHOUSE_DASHBOARD_ASSETS !== 'undefined') return POWERHOUSE_DASHBOARD_ASSETS;
  // Only from source: the bundle never reaches this (esbuild is no part of it).
  const { buildDashboardAssets } = await import('./build');
  return buildDashboardAssets();
}

export function dashboardAsset(name: keyof typeof TYPES): Promise<ServedAsset> {
  served ??= load().then((a) => {
    const asset = (text: string, type: string): ServedAsset => {
      const body = Buffer.from(text, 'utf8');
      return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url')}"` };
    };
    return { html: asset(a.html, TYPES.html), js: asset(a.js, TYPES.js), css: asset(a.css, TYPES.css) };
  });
  served.catch(() => (served = undefined)); // a failed build is tried again on the next request
  return served.then((all) => all[name]);
}
