// FLIP re-ordering: remember where keyed children were, change the DOM, slide them over.

export function flip(container, mutate, { duration = 450, key = (n) => n.dataset.key } = {}) {
  const before = new Map();
  for (const node of container.children) before.set(key(node), node.getBoundingClientRect().top);
  mutate();
  if (matchMedia("(prefers-reduced-motion: reduce)").matches) return;
  for (const node of container.children) {
    const top = before.get(key(node));
    if (top === undefined) continue;
    const dy = top - node.getBoundingClientRect().top;
    if (Math.abs(dy) > 0.5) {
      node.animate([{ transform: `translateY(${dy}px)` }, { transform: "translateY(0)" }], { duration, easing: "cubic-bezier(.2,.7,.2,1)" });
    }
  }
}

export function flash(node) {
  node.animate([{ backgroundColor: "rgba(245, 183, 0, 0.22)" }, { backgroundColor: "rgba(245, 183, 0, 0)" }], { duration: 1600, easing: "ease-out" });
}
