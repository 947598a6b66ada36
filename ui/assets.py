"""The app's CSS and the sources panel's script, kept apart from the Python that uses them.

Colours come from Gradio's theme variables (with fallbacks for the article view, which is
attached to the page body, outside the themed container), so dark mode works too.
"""

CSS = """
.cite-chip, .cite-source, .show-details {
  display: inline-flex; align-items: center; gap: .3em; border: 1px solid var(--color-accent, #f97316);
  border-radius: 999px; background: var(--color-accent-soft, #fff7ed); color: inherit; cursor: pointer;
  font: inherit; line-height: 1.2;
}
.cite-chip { font-size: .75em; font-weight: 600; padding: 0 .5em; margin: 0 .1em; vertical-align: .15em; }
.cite-chip:hover, .cite-source:hover, .show-details:hover { background: var(--color-accent, #f97316); color: white; }
.cite-footer { display: flex; flex-wrap: wrap; gap: .4em; margin-top: .6em; }
.cite-source, .show-details { font-size: .8em; padding: .15em .6em; max-width: 100%; text-align: left; }
.show-details { border-style: dashed; }
.cite-num {
  display: inline-flex; justify-content: center; min-width: 1.4em; border-radius: 999px; font-weight: 600;
  background: var(--color-accent, #f97316); color: white; font-size: .85em;
}
.abstained { border-left: 3px solid var(--neutral-400, #9ca3af); padding-left: .6em; }
.abstained .hint, .pending, .panel-empty, .source-meta, .sources-question {
  color: var(--body-text-color-subdued, #6b7280);
}
.pending { font-style: italic; }
.cursor { animation: blink 1s steps(2) infinite; }
@keyframes blink { 50% { opacity: 0; } }

.sources-panel { display: flex; flex-direction: column; gap: .8em; max-height: 640px; overflow-y: auto; padding: .2em; }
.sources-panel section { display: flex; flex-direction: column; gap: .8em; }
.sources-panel [hidden] { display: none !important; }
.sources-question { margin: 0; font-size: .9em; }
.source {
  border: 1px solid var(--border-color-primary, #e5e7eb); border-radius: 8px; padding: .6em .8em;
  transition: box-shadow .3s, border-color .3s;
}
.source.focused { border-color: var(--color-accent, #f97316); box-shadow: 0 0 0 3px var(--color-accent-soft, #fed7aa); }
.source header { display: flex; gap: .5em; align-items: flex-start; }
.source-meta { font-size: .8em; }
.passage {
  white-space: pre-wrap; margin: .5em 0; padding-left: .6em; font-size: .9em;
  border-left: 3px solid var(--border-color-primary, #e5e7eb);
}
.passage mark, .article-text mark { background: #fde68a; color: #111827; border-radius: 2px; padding: 0 .1em; }
/* The sentence of the claim whose chip was clicked, among the passage's marks. */
.passage mark.current { background: #fbbf24; box-shadow: 0 0 0 2px #f59e0b; }
/* In the whole article the passage is tinted too, so its supporting sentence needs a stronger mark. */
.article-text mark { background: #fcd34d; box-shadow: 0 0 0 2px #f59e0b; }
.view-article, .article-close {
  background: none; border: none; padding: 0; color: var(--link-text-color, #2563eb); cursor: pointer;
  text-decoration: underline; font: inherit; font-size: .85em;
}
.retrieval summary { cursor: pointer; font-weight: 600; }
.retrieval .timings { font-size: .85em; }
.left-out summary { cursor: pointer; font-size: .9em; }
.left-out li { font-size: .85em; color: var(--body-text-color-subdued, #666); }
.hits { padding-left: 1.2em; font-size: .85em; }
.hits li { margin-bottom: .5em; }
.hits .score { font-family: var(--font-mono, monospace); }
.hits .cited { color: var(--color-accent, #f97316); font-weight: 600; }
.hit-text { color: var(--body-text-color-subdued, #6b7280); }

.article-modal {
  position: fixed; inset: 0; z-index: 1000; background: rgba(0, 0, 0, .45);
  display: flex; align-items: center; justify-content: center;
}
.article-modal[hidden] { display: none; }
.article-view {
  background: var(--background-fill-primary, white); color: var(--body-text-color, #111827);
  width: min(820px, 92vw); max-height: 85vh; display: flex; flex-direction: column; border-radius: 10px;
  padding: 1em 1.2em; box-shadow: 0 10px 40px rgba(0, 0, 0, .3);
}
.article-view header {
  display: flex; justify-content: space-between; gap: 1em; padding-bottom: .6em; margin-bottom: .6em;
  border-bottom: 1px solid var(--border-color-primary, #e5e7eb);
}
.article-text { white-space: pre-wrap; overflow-y: auto; line-height: 1.5; }
.passage-range { background: #fef3c7; color: #111827; }
"""

# Runs once when the sources panel (a gr.HTML) is mounted: `element` is the panel and `server`
# calls its Python server functions. The click listener sits on the document because the chips
# live in the chatbot, outside the panel; it is replaced rather than added again if the panel
# mounts twice.
PANEL_JS = r"""
function show(answer, n, openDetails, claim) {
  const section = element.querySelector(`.answer-sources[data-answer="${answer}"]`);
  if (!section) return;
  element.querySelectorAll('.answer-sources').forEach(s => { s.hidden = s !== section; });
  element.querySelectorAll('.focused').forEach(s => s.classList.remove('focused'));
  let target = n ? section.querySelector(`.source[data-n="${n}"]`) : null;
  const details = section.querySelector('details.retrieval');
  if (openDetails && details) { details.open = true; target = details; }
  element.querySelectorAll('mark.current').forEach(m => m.classList.remove('current'));
  if (target && claim !== undefined) {
    target.querySelectorAll(`mark.claim-${claim}`).forEach(m => m.classList.add('current'));
  }
  if (target) {
    target.classList.add('focused');
    target.scrollIntoView({block: 'nearest', behavior: 'smooth'});
  }
}

function modal() {
  let box = document.getElementById('rag-article-modal');
  if (!box) {
    box = document.createElement('div');
    box.id = 'rag-article-modal';
    box.className = 'article-modal';
    box.hidden = true;
    box.addEventListener('click', e => {
      if (e.target === box || e.target.closest('.article-close')) box.hidden = true;
    });
    document.body.appendChild(box);
  }
  return box;
}

async function viewArticle(button) {
  const box = modal(), d = button.dataset;
  box.innerHTML = '<div class="article-view"><p>Loading the article…</p></div>';
  box.hidden = false;
  box.innerHTML = await server.view_article({source: d.source, start: d.start, end: d.end, highlights: d.highlights});
  const mark = box.querySelector('mark');
  if (mark) mark.scrollIntoView({block: 'center'});
}

if (window.ragPanelClick) document.removeEventListener('click', window.ragPanelClick);
window.ragPanelClick = event => {
  const chip = event.target.closest('.cite-chip, .cite-source, .show-details');
  const ref = chip && [...chip.classList].map(c => c.match(/^ref-(\d+)-(\d+)$/)).find(Boolean);
  if (ref) {
    event.preventDefault();
    const claim = [...chip.classList].map(c => c.match(/^claim-(\d+)$/)).find(Boolean);
    show(ref[1], ref[2], chip.classList.contains('show-details'), claim ? claim[1] : undefined);
    return;
  }
  const view = event.target.closest('.view-article');
  if (view && element.contains(view)) {
    event.preventDefault();
    viewArticle(view);
  }
};
document.addEventListener('click', window.ragPanelClick);
if (!window.ragEscape) {
  window.ragEscape = e => { if (e.key === 'Escape') modal().hidden = true; };
  document.addEventListener('keydown', window.ragEscape);
}
"""
