// Basic accessibility checks of the page as it is shown, evaluated in the browser by
// tests/ui/test_status_page.c. Returns the list of problems found (empty: none). Checks:
//   - the document has a language and a title, one h1;
//   - every visible form field has a label, every visible button or link an accessible name,
//     none is taken out of the tab order, every image has an alt text;
//   - every visible text has a contrast of 4.5:1 against its background (3:1 for large text),
//     the WCAG 2 AA formula; focus outlines are not switched off.
(() => {
  const problems = [];
  const shown = (e) => {
    const s = getComputedStyle(e);
    const r = e.getBoundingClientRect();
    return s.visibility !== 'hidden' && s.display !== 'none' && r.width > 0 && r.height > 0 &&
      !e.closest('[hidden]');
  };
  const what = (e) => `${e.tagName.toLowerCase()}${e.id ? '#' + e.id : ''} "${(e.textContent || '').trim().slice(0, 40)}"`;

  if (!document.documentElement.lang) problems.push('html has no lang');
  if (!document.title.trim()) problems.push('document has no title');
  if (document.querySelectorAll('h1').length !== 1) problems.push('not exactly one h1');

  for (const e of document.querySelectorAll('input, select, textarea')) {
    if (e.type === 'hidden' || !shown(e)) continue;
    const named = (e.labels && e.labels.length) || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby');
    if (!named) problems.push(`field without a label: ${what(e)}`);
  }
  for (const e of document.querySelectorAll('button, a[href], summary')) {
    if (!shown(e)) continue;
    const name = (e.getAttribute('aria-label') || e.textContent || '').trim();
    if (!name) problems.push(`control without a name: ${e.outerHTML.slice(0, 80)}`);
    if (e.tabIndex < 0) problems.push(`control out of the tab order: ${what(e)}`);
  }
  for (const e of document.querySelectorAll('[tabindex]')) {
    if (Number(e.getAttribute('tabindex')) > 0) problems.push(`positive tabindex: ${what(e)}`);
  }
  for (const e of document.querySelectorAll('img')) {
    if (!e.hasAttribute('alt')) problems.push(`image without alt: ${e.src}`);
  }

  const rgba = (s) => {
    const m = /rgba?\(([^)]+)\)/.exec(s);
    if (!m) return null;
    const p = m[1].split(/[\s,/]+/).filter(Boolean).map(parseFloat);
    return { rgb: p.slice(0, 3), a: p.length > 3 ? p[3] : 1 };
  };
  const lum = (rgb) => {
    const [r, g, b] = rgb.map((v) => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = (e) => {
    for (let n = e; n; n = n.parentElement) {
      const c = rgba(getComputedStyle(n).backgroundColor);
      if (c && c.a >= 0.5) return c.rgb;
    }
    return [255, 255, 255];
  };
  let checked = 0;
  for (const e of document.querySelectorAll('body *')) {
    const hasText = [...e.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    if (!hasText || !shown(e)) continue;
    const s = getComputedStyle(e);
    const fg = rgba(s.color);
    if (!fg) continue;
    const bg = background(e);
    const [hi, lo] = [lum(fg.rgb), lum(bg)].sort((a, b) => b - a);
    const ratio = (hi + 0.05) / (lo + 0.05);
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (Number(s.fontWeight) >= 700 && size >= 18.66);
    const need = large ? 3 : 4.5;
    checked++;
    if (ratio < need) problems.push(`contrast ${ratio.toFixed(2)}:1 < ${need}:1 for ${what(e)}`);
  }
  if (checked < 10) problems.push(`only ${checked} text elements checked for contrast`);

  for (const sheet of document.styleSheets) {
    for (const rule of sheet.cssRules) {
      if (/:focus/.test(rule.selectorText || '') && /outline:\s*(none|0)/.test(rule.cssText)) {
        problems.push(`focus outline removed by ${rule.selectorText}`);
      }
    }
  }
  return problems;
})()
