/**
 * A card form that runs one action per submit: its button is disabled while the action
 * runs, and an error the action throws (the API's code and message, or the browser's)
 * is shown in `outcome`. The action shows its own success there.
 */
import { errorText } from './api.js';
import { h, message, replace, type Child } from './dom.js';

export interface ActionFormOptions {
  /** The id of the form's heading, which names the form. */
  headingId: string;
  submit: HTMLButtonElement;
  outcome: HTMLElement;
  action: () => Promise<void>;
}

export function actionForm({ headingId, submit, outcome, action }: ActionFormOptions, ...children: Array<Child | Child[]>): HTMLFormElement {
  return h('form', {
    class: 'card',
    'aria-labelledby': headingId,
    onsubmit: (event: Event) => {
      event.preventDefault();
      submit.disabled = true;
      void action()
        .catch((error: unknown) => replace(outcome, message('error', errorText(error))))
        .finally(() => { submit.disabled = false; });
    },
  }, ...children);
}
