"""What every console page must pass on a phone: a usable map, no sideways page scroll, and
every control on screen (or reachable inside its own scrolling box) and not clipped."""

from __future__ import annotations

from typing import Any

#: Phone screens the console is tried on (CSS pixels): an iPhone 12-15 and a small Android.
PHONES = {"390x844": (390, 844), "360x740": (360, 740)}

#: Smallest map box (CSS pixels) that still shows where vehicles and drops are.
MAP_MIN_W, MAP_MIN_H = 300, 200

#: Runs in the page: every visible control that is off screen sideways (and not inside a
#: box that scrolls to it) or cut by an ancestor that hides overflow.
_MISPLACED = """() => {
  const W = window.innerWidth, bad = [];
  const name = (e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}` +
    `${typeof e.className === "string" && e.className ? "." + e.className : ""}` +
    ` "${(e.textContent || e.value || e.placeholder || "").trim().slice(0, 30)}"`;
  const controls = document.querySelectorAll(
    "nav a, nav button, main a, main button, main input:not([type=hidden]), main select, " +
    "main textarea, main summary");
  for (const e of controls) {
    const r = e.getBoundingClientRect();
    if (!e.getClientRects().length || r.width === 0 || r.height === 0) continue;
    if (getComputedStyle(e).visibility === "hidden") continue;
    let scroller = null;
    for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
      const s = getComputedStyle(a), box = a.getBoundingClientRect();
      const scrolls = ["auto", "scroll"].includes(s.overflowX) && a.scrollWidth > a.clientWidth;
      if (scrolls) {
        const left = r.left - box.left + a.scrollLeft, right = r.right - box.left + a.scrollLeft;
        if (left < -1 || right > a.scrollWidth + 1) bad.push(`${name(e)} outside its scroll box`);
        scroller = a;
        break;
      }
      const hides = (v) => ["hidden", "clip"].includes(v);
      if ((hides(s.overflowX) && (r.left < box.left - 1 || r.right > box.right + 1)) ||
          (hides(s.overflowY) && (r.top < box.top - 1 || r.bottom > box.bottom + 1))) {
        bad.push(`${name(e)} clipped by ${name(a)}`);
        break;
      }
    }
    const outer = scroller ? scroller.getBoundingClientRect() : r;
    if (outer.left < -1 || outer.right > W + 1)
      bad.push(`${name(e)} off screen: ${Math.round(r.left)}..${Math.round(r.right)} of ${W}`);
  }
  return bad;
}"""


def layout_problems(page: Any) -> list[str]:
    """Everything wrong with the open page's layout on a phone (empty: it fits)."""
    problems: list[str] = list(page.evaluate(_MISPLACED))
    widths = page.evaluate(
        "() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    if widths[0] > widths[1]:
        problems.append(f"the page scrolls sideways: {widths[0]} px on a {widths[1]} px screen")
    box = page.evaluate("""() => { const m = document.getElementById("map");
      if (!m) return null; const r = m.getBoundingClientRect(); return [r.width, r.height]; }""")
    if box is not None and (box[0] < MAP_MIN_W or box[1] < MAP_MIN_H):
        problems.append(f"the map is {box[0]:.0f} x {box[1]:.0f} px")
    return problems


def on_screen(page: Any, selector: str) -> bool:
    """True if the element is visible and wholly inside the screen sideways."""
    box = page.locator(selector).bounding_box()
    width = page.evaluate("window.innerWidth")
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width
