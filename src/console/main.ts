/**
 * The Runnel console: a single page served by the node at /console, talking to the
 * node's public REST API only. Pages are addressed by the URL fragment (#/, #/topics,
 * #/topics/<name>, #/groups, #/groups/<id>, #/keys), so the node serves one index.html
 * and the browser's back button works. The navigation leaves out the pages the key may
 * not read (their list answers 403), and Keys unless the node wants keys (--auth
 * api-key).
 */
import './style.css';
import { ApiError, probe, storedKey, storeKey, whenUnauthenticated } from './api.js';
import { h, message, replace, type PageContext } from './dom.js';
import { renderGroup } from './group.js';
import { renderGroups } from './groups.js';
import { renderKeys } from './keys.js';
import { renderOverview } from './overview.js';
import { renderTopic } from './topic.js';
import { renderTopics } from './topics.js';

interface Route {
  title: string;
  nav: 'overview' | 'topics' | 'groups' | 'keys';
  render: (context: PageContext) => Promise<void>;
}

function routeOf(hash: string): Route {
  const path = hash.replace(/^#/, '') || '/';
  const topic = /^\/topics\/(.+)$/.exec(path);
  if (topic !== null) {
    const name = decodeURIComponent(topic[1]);
    return { title: `Topic ${name}`, nav: 'topics', render: (context) => renderTopic(context, name) };
  }
  const group = /^\/groups\/(.+)$/.exec(path);
  if (group !== null) {
    const id = decodeURIComponent(group[1]);
    return { title: `Group ${id}`, nav: 'groups', render: (context) => renderGroup(context, id) };
  }
  if (path === '/groups') return { title: 'Groups', nav: 'groups', render: renderGroups };
  if (path === '/keys') return { title: 'Keys', nav: 'keys', render: renderKeys };
  if (path === '/topics') return { title: 'Topics', nav: 'topics', render: renderTopics };
  return { title: 'Overview', nav: 'overview', render: renderOverview };
}

const main = h('main', { id: 'main', tabindex: '-1' });
const navLinks = {
  overview: h('a', { href: '#/' }, 'Overview'),
  topics: h('a', { href: '#/topics' }, 'Topics'),
  groups: h('a', { href: '#/groups' }, 'Groups'),
  keys: h('a', { href: '#/keys' }, 'Keys'),
};
/** The list each navigation entry reads: left out when the key may not read it. */
const NAV_PROBES = { topics: '/v1/topics', groups: '/v1/groups', keys: '/v1/keys/self' } as const;
const navItems = Object.fromEntries(Object.entries(navLinks).map(([name, link]) => [name, h('li', { hidden: name === 'keys' }, link)])) as Record<keyof typeof navLinks, HTMLLIElement>;
/** The key the navigation was last probed for ('' for none). */
let probedFor: string | undefined;

async function probeNav(): Promise<void> {
  const key = storedKey() ?? '';
  if (probedFor === key) return;
  probedFor = key;
  const isAuthOn = (await probe('/v1/cluster', false)) === 401;
  await Promise.all(Object.entries(NAV_PROBES).map(async ([name, path]) => {
    const status = await probe(path);
    navItems[name as keyof typeof NAV_PROBES].hidden = status === 403 || (name === 'keys' && (!isAuthOn || status !== 200));
  }));
}
const session = h('div', { class: 'session' });
let current: AbortController | undefined;

function renderSession(): void {
  const key = storedKey();
  replace(session, key === undefined ? null : h('button', {
    type: 'button',
    class: 'secondary',
    onclick: () => {
      storeKey(undefined);
      void show();
    },
  }, 'Sign out'));
}

async function show(): Promise<void> {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const route = routeOf(location.hash);
  document.title = `${route.title} · Runnel console`;
  for (const [name, link] of Object.entries(navLinks)) {
    if (name === route.nav) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  renderSession();
  void probeNav();
  replace(main, h('p', { class: 'loading', role: 'status' }, 'Loading…'));
  try {
    await route.render({ main, signal: controller.signal });
  } catch (error) {
    if (controller.signal.aborted) return;
    if (error instanceof ApiError && error.status === 401) return; // the sign-in form is showing
    replace(main, h('h1', {}, route.title), message('error', error instanceof ApiError ? `${error.code}: ${error.message}` : String(error)));
  }
}

/** With --auth api-key the node answers 401 until a key is given: ask for one. */
function showSignIn(error: ApiError): void {
  current?.abort();
  const input = h('input', { id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'off', required: true, spellcheck: 'false' });
  const form = h('form', {
    class: 'card sign-in',
    onsubmit: (event: Event) => {
      event.preventDefault();
      storeKey(input.value.trim());
      void show();
    },
  },
  h('h1', {}, 'Sign in'),
  h('p', {}, 'This node requires an API key. It is kept in this tab only (session storage) and sent with each call in the Authorization header.'),
  storedKey() === undefined ? null : message('error', error.message),
  h('div', { class: 'field' }, h('label', { for: 'api-key' }, 'API key'), input),
  h('button', { type: 'submit' }, 'Sign in'));
  storeKey(undefined);
  renderSession();
  document.title = 'Sign in · Runnel console';
  replace(main, form);
  input.focus();
}

function start(): void {
  const header = h('header', { class: 'top' },
    h('a', { class: 'skip', href: '#main', onclick: (event: Event) => { event.preventDefault(); main.focus(); } }, 'Skip to content'),
    h('span', { class: 'brand' }, 'Runnel'),
    h('nav', { 'aria-label': 'Console' }, h('ul', {}, Object.values(navItems))),
    session);
  replace(document.body, header, main);
  whenUnauthenticated(showSignIn);
  window.addEventListener('hashchange', () => void show());
  void show();
}

start();
