// The ops dashboard in the browser: a sign-in form that keeps the admin token in this tab's sessionStorage,
// then GET /v1/admin/status every pollMs (2 s) with the token as a Bearer header, rendered without reloads.
// Polling, not server-sent events: EventSource cannot send an Authorization header (a cookie would be a second
// way to authenticate, with CSRF to defend), and the worker computes the status once a second for every
// viewer, so a poll costs one cached JSON answer.
import 'uplot/dist/uPlot.min.css';
import './dashboard.css';
import type { AdminStatus } from '../../status/types';
import { ThroughputChart } from './chart';
import { byId } from './dom';
import { render } from './render';

const TOKEN_KEY = 'powerhouse.adminToken';
const DEFAULT_POLL_MS = 2000;

let timer: number | undefined;
let chart: ThroughputChart | undefined;

function show(view: 'signin' | 'dashboard'): void {
  byId('signin-view').hidden = view !== 'signin';
  byId('dashboard').hidden = view !== 'dashboard';
  byId('signout').hidden = view !== 'dashboard';
}

function banner(text: string | null): void {
  const b = byId('banner');
  b.hidden = text === null;
  b.textContent = text ?? '';
}

function signOut(message = ''): void {
  sessionStorage.removeItem(TOKEN_KEY);
  window.clearTimeout(timer);
  banner(null);
  byId('signin-error').textContent = message;
  show('signin');
  byId<HTMLInputElement>('token').focus();
}

async function poll(): Promise<void> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) return signOut();
  let next = DEFAULT_POLL_MS;
  try {
    const res = await fetch('/v1/admin/status', {
      headers: { Authorization: `Bearer ${token}` },
      cache: 'no-store',
      credentials: 'omit',
    });
    if (res.status === 401 || res.status === 403)
      return signOut(
        res.status === 401 ? 'That token was refused.' : 'That is an upload token, not the admin token.',
      );
    if (!res.ok) throw new Error(`the worker answered ${res.status}`);
    const status = (await res.json()) as AdminStatus;
    show('dashboard');
    banner(null);
    chart ??= new ThroughputChart(byId('chart'));
    render(status, chart);
    next = status.pollMs || DEFAULT_POLL_MS;
  } catch (err) {
    banner(`Cannot read the status: ${(err as Error).message}. Trying again.`);
  }
  window.clearTimeout(timer);
  timer = window.setTimeout(() => void poll(), next);
}

function start(): void {
  byId<HTMLFormElement>('signin').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = byId<HTMLInputElement>('token');
    const token = input.value.trim();
    input.value = '';
    if (!token) return;
    sessionStorage.setItem(TOKEN_KEY, token);
    byId('signin-error').textContent = '';
    void poll();
  });
  byId('signout').addEventListener('click', () => signOut());
  if (sessionStorage.getItem(TOKEN_KEY)) void poll();
  else show('signin');
}

start();
