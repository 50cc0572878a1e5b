/** The field manager of every write the operator makes (never one starting with "kubectl", which Flux strips). */
export const FIELD_MANAGER = "arf-operator";
