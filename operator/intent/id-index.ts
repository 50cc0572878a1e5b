// Intents by intent id, kept current from the informer's events, so finding an
// intent's duplicates costs a lookup instead of a scan of every intent in its
// namespace on every reconcile (10,000 intents in one namespace made that scan
// the operator's quadratic cost).
import type { HealingIntentObject } from "./objects.ts";

export class IntentIdIndex {
  /** "namespace\nintentId" -> name -> object */
  private readonly byId = new Map<string, Map<string, HealingIntentObject>>();
  /** "namespace/name" -> the "namespace\nintentId" it is filed under */
  private readonly filedUnder = new Map<string, string>();
  private readonly idOf: (object: HealingIntentObject) => string | undefined;

  constructor(idOf: (object: HealingIntentObject) => string | undefined) {
    this.idOf = idOf;
  }

  /** Files the cache's current object for (namespace, name), or forgets it when `current` is undefined (deleted). */
  update(namespace: string, name: string, current: HealingIntentObject | undefined): void {
    const objectKey = `${namespace}/${name}`;
    // The id first: should computing it throw, the index is left as it was, not missing the intent.
    const id = current ? this.idOf(current) : undefined;
    const previous = this.filedUnder.get(objectKey);
    if (previous !== undefined) {
      const names = this.byId.get(previous);
      names?.delete(name);
      if (names?.size === 0) this.byId.delete(previous);
      this.filedUnder.delete(objectKey);
    }
    if (!current || id === undefined) return;
    const key = `${namespace}\n${id}`;
    let names = this.byId.get(key);
    if (!names) {
      names = new Map();
      this.byId.set(key, names);
    }
    names.set(name, current);
    this.filedUnder.set(objectKey, key);
  }

  /** The intents of a namespace that propose the action with this id (an invalid spec has none). */
  withId(namespace: string, intentId: string): HealingIntentObject[] {
    return [...(this.byId.get(`${namespace}\n${intentId}`)?.values() ?? [])];
  }
}
