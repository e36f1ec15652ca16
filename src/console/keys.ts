/**
 * Keys (with --auth api-key): what the signed-in key may do (GET /v1/keys/self, for any
 * key), and for a key with admin on the cluster every API key with its grants (GET
 * /v1/keys, never a secret), a create form whose answer shows the new secret once, and
 * delete behind a dialog that asks for the key's name. A key that may not list keys
 * sees only its own grants.
 */
import { ApiError, call, errorText, type Grant, type KeyInfo } from './api.js';
import { confirmDelete } from './confirm-delete.js';
import { h, field, formatTime, message, replace, type PageContext } from './dom.js';
import { actionForm } from './action-form.js';

const RESOURCES = new Set(['topic', 'group', 'cluster']);
const OPERATIONS = new Set(['read', 'write', 'admin']);

/**
 * One grant per line: `topic billing.* read,write` (a prefix), `group audit read` (a
 * name), `topic * read` (every topic), `cluster admin` (manage keys).
 */
export function parseGrants(text: string): Grant[] {
  return text.split('\n').map((line) => line.trim()).filter((line) => line !== '').map((line, index) => {
    const words = line.split(/\s+/);
    const where = `grants line ${index + 1} ("${line}")`;
    const resource = words[0];
    if (!RESOURCES.has(resource)) throw new Error(`${where}: starts with topic, group or cluster`);
    const operationsText = resource === 'cluster' ? words[1] : words[2];
    if (words.length !== (resource === 'cluster' ? 2 : 3) || operationsText === undefined) {
      throw new Error(resource === 'cluster' ? `${where}: expected cluster admin` : `${where}: expected ${resource} <name, prefix* or *> <operations>`);
    }
    const operations = operationsText.split(',').filter((operation) => operation !== '');
    const unknown = operations.find((operation) => !OPERATIONS.has(operation));
    if (unknown !== undefined || operations.length === 0) throw new Error(`${where}: operations are read, write or admin, comma-separated`);
    const grant = { resource, operations } as Grant;
    if (resource === 'cluster') return grant;
    const pattern = words[1];
    if (pattern.endsWith('*') && pattern !== '*') grant.prefix = pattern.slice(0, -1);
    else if (pattern !== '*') grant.name = pattern;
    return grant;
  });
}

/** A grant in words: "read, write on topics starting with billing.". */
export function grantText(grant: Grant): string {
  const what = grant.resource === 'cluster' ? 'the cluster (API keys)'
    : grant.name !== undefined ? `${grant.resource} ${grant.name}`
      : grant.prefix !== undefined ? `${grant.resource}s starting with ${grant.prefix}` : `every ${grant.resource}`;
  return `${grant.operations.join(', ')} on ${what}`;
}

function grantList(grants: Grant[]): HTMLElement {
  if (grants.length === 0) return h('span', { class: 'subtle' }, 'no grants');
  return h('ul', { class: 'grants' }, grants.map((grant) => h('li', {}, grantText(grant))));
}

interface OwnKey {
  keyId: string;
  name: string;
  grants: Grant[];
}

/** What the signed-in key may do: its own grants, or everything for the node's --admin-key. */
function ownKey(own: OwnKey): HTMLElement {
  return h('section', { class: 'card', 'aria-labelledby': 'own-key-heading' },
    h('h2', { id: 'own-key-heading' }, 'This key'),
    own.keyId === 'admin'
      ? h('p', { id: 'own-key' }, 'The node\'s admin key (--admin-key): it may do everything.')
      : h('div', { id: 'own-key' }, h('p', {}, 'Signed in as ', h('strong', {}, own.name), ' (', h('code', {}, own.keyId), '). It may:'), grantList(own.grants)));
}

function keysTable(keys: KeyInfo[], refresh: () => void): HTMLElement {
  if (keys.length === 0) return h('p', { class: 'subtle' }, 'No keys made yet: only the node\'s admin key works.');
  const columns = ['Name', 'Key id', 'Grants', 'Created'];
  return h('div', { class: 'scroll', tabindex: '0', role: 'region', 'aria-label': 'API keys (scrolls sideways)' }, h('table', { id: 'keys' },
    h('caption', { class: 'visually-hidden' }, 'API keys'),
    h('thead', {}, h('tr', {}, columns.map((column) => h('th', { scope: 'col' }, column)), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
    h('tbody', {}, keys.map((key) => h('tr', {},
      h('th', { scope: 'row' }, key.name),
      h('td', {}, h('code', {}, key.keyId)),
      h('td', {}, grantList(key.grants)),
      h('td', {}, formatTime(key.createdAtMs)),
      h('td', {}, h('button', {
        type: 'button',
        class: 'danger small',
        'aria-label': `Delete key ${key.name}`,
        onclick: () => confirmDelete({ kind: 'key', name: key.name, path: `/v1/keys/${encodeURIComponent(key.keyId)}`, consequence: 'The key stops working at once and its open streams end. This cannot be undone.', onDeleted: refresh }),
      }, 'Delete')))))));
}

function createForm(onCreated: () => void): HTMLElement {
  const name = h('input', { id: 'key-name', required: true, autocomplete: 'off', spellcheck: 'false' });
  const grants = h('textarea', { id: 'key-grants', rows: '3', spellcheck: 'false', placeholder: 'topic billing.* read,write' });
  const outcome = h('div', { class: 'outcome' });
  const submit = h('button', { type: 'submit' }, 'Create key');
  return actionForm({
    headingId: 'create-key-heading',
    submit,
    outcome,
    action: async () => {
      const created = await call<KeyInfo & { key: string }>('POST', '/v1/keys', { name: name.value.trim(), grants: parseGrants(grants.value) });
      replace(outcome, h('div', { class: 'message ok', role: 'status' },
        h('p', {}, `Key ${created.name} created. Its secret is shown this once: store it now.`),
        h('code', { id: 'new-key-secret', class: 'secret' }, created.key)));
      name.value = '';
      grants.value = '';
      onCreated();
    },
  },
  h('h2', { id: 'create-key-heading' }, 'Create a key'),
  field('Name', name),
  field('Grants', grants, 'One per line: topic billing.* read,write (a prefix), group audit read (a name), topic * read (every topic), cluster admin (manage keys). Operations: read, write, admin.'),
  submit,
  outcome);
}

/** The keys, or undefined when this key may not list them (403). */
async function listKeys(): Promise<KeyInfo[] | undefined> {
  try {
    return (await call<{ keys: KeyInfo[] }>('GET', '/v1/keys')).keys;
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return undefined;
    throw error;
  }
}

export async function renderKeys({ main, signal }: PageContext): Promise<void> {
  const [self, keys] = await Promise.all([call<OwnKey>('GET', '/v1/keys/self'), listKeys()]);
  if (signal.aborted) return;
  if (keys === undefined) {
    replace(main, h('h1', {}, 'Keys'), ownKey(self), h('p', { class: 'subtle', id: 'keys-not-listed' }, 'This key may not list or make keys (that needs admin on the cluster).'));
    return;
  }
  const list = h('div', {}, keysTable(keys, () => void refresh()));
  const refresh = async (): Promise<void> => {
    try {
      const fresh = await call<{ keys: KeyInfo[] }>('GET', '/v1/keys');
      replace(list, keysTable(fresh.keys, () => void refresh()));
    } catch (error) {
      replace(list, message('error', errorText(error)));
    }
  };
  replace(main,
    h('h1', {}, 'Keys'),
    ownKey(self),
    list,
    createForm(() => void refresh()));
}
