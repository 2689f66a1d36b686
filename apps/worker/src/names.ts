/** Docker object names derive from the resource id, so every retry of a step finds the same objects. */
export function containerNameOf(resourceId: string): string {
  return `berth-${resourceId}`;
}

export function volumeNameOf(resourceId: string): string {
  return `berth-${resourceId}-data`;
}
