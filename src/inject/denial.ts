/**
 * Thrown by the rules when a Pod that asked for injection cannot get it; injectPod turns it into a
 * `denied` decision. The message is shown to the user by kubectl, so it names the annotation or
 * field at fault and the fix.
 */
export class Denial extends Error {
  override name = 'Denial';
}
