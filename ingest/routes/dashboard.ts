// GET /admin (the ops dashboard), its script and stylesheet, and GET /v1/admin/status (the numbers it shows).
// The page and its assets hold no data and are served without a token; the status takes the admin token,
// which the page keeps in sessionStorage and sends as a Bearer header (never in a URL). Every asset comes
// from here: the Content-Security-Policy allows this origin only, and no inline script or style.
import { dashboardAsset } from '../dashboard/assets';
import { requireAdmin } from './admin';
import type { Exchange, RouteContext } from './context';
import { sendJson } from './respond';

export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

async function sendAsset(x: Exchange, name: 'html' | 'js' | 'css'): Promise<void> {
  const asset = await dashboardAsset(name);
  const headers = {
    'Content-Type': asset.type,
    'Content-Security-Policy': DASHBOARD_CSP,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    // Revalidated on every load (cheap: 304), so a new worker's page is never mixed with an old script.
    'Cache-Control': 'no-cache',
    ETag: asset.etag,
  };
  if (x.req.headers['if-none-match'] === asset.etag) {
    x.res.writeHead(304, headers);
    x.res.end();
    return;
  }
  x.res.writeHead(200, { ...headers, 'Content-Length': String(asset.body.length) });
  x.res.end(asset.body);
}

export const handleDashboardPage = (_ctx: RouteContext, x: Exchange) => sendAsset(x, 'html');
export const handleDashboardScript = (_ctx: RouteContext, x: Exchange) => sendAsset(x, 'js');
export const handleDashboardStyles = (_ctx: RouteContext, x: Exchange) => sendAsset(x, 'css');

/** GET /v1/admin/status: 200 even when a section could not be read (that section is {"error": "…"}). */
export async function handleAdminStatus(ctx: RouteContext, x: Exchange): Promise<void> {
  requireAdmin(ctx, x);
  sendJson(ctx, x.res, 200, await ctx.status.status());
}
