/**
 * The delete dialog of topics, groups and keys: modal, and the delete is sent only once the
 * name is typed; the API's refusal (GROUP_NOT_EMPTY, ...) is shown in the dialog.
 */
import { call, errorText } from './api.js';
import { h, field, message, replace } from './dom.js';

export interface DeleteConfirmation {
  kind: 'topic' | 'group' | 'key';
  name: string;
  /** The resource's path, deleted with DELETE. */
  path: string;
  /** What deleting it does, in one sentence or two. */
  consequence: string;
  onDeleted: () => void;
}

export function confirmDelete(confirmation: DeleteConfirmation): void {
  const { kind, name } = confirmation;
  const typed = h('input', { id: `confirm-${kind}`, autocomplete: 'off', spellcheck: 'false' });
  const outcome = h('div', { class: 'outcome' });
  const dialog = h('dialog', { 'aria-labelledby': 'confirm-heading' });
  const close = (): void => {
    dialog.close();
    dialog.remove();
  };
  replace(dialog, h('form', {
    method: 'dialog',
    onsubmit: (event: Event) => {
      event.preventDefault();
      if (typed.value !== name) {
        replace(outcome, message('error', `Type ${name} to confirm.`));
        return;
      }
      void call('DELETE', confirmation.path).then(() => {
        close();
        confirmation.onDeleted();
      }, (error: unknown) => replace(outcome, message('error', errorText(error))));
    },
  },
  h('h2', { id: 'confirm-heading' }, `Delete ${kind} ${name}?`),
  h('p', {}, confirmation.consequence),
  field(`Type ${name} to confirm`, typed),
  outcome,
  h('div', { class: 'buttons' },
    h('button', { type: 'submit', class: 'danger' }, 'Delete'),
    h('button', { type: 'button', class: 'secondary', onclick: close }, 'Cancel'))));
  document.body.appendChild(dialog);
  dialog.addEventListener('close', () => dialog.remove());
  dialog.showModal();
  typed.focus();
}
