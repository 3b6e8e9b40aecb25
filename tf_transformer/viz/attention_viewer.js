// The attention viewer: one sentence's attention weights, every layer and head, in a page.
//
// The one script behind both attention pages: tf_transformer.viz's view (attention.html, with
// this file inlined) and the page of `tf-transformer serve` (serving/page.html, which the server
// fills with this file read by path). Both call
//
//   AttentionViewer.mount(root, data)
//
// with data = {tokens: {source: [...], target: [...]},
//              kinds: [{name, label, note, queries: "source" | "target", keys: ..., weights}]},
// weights [layers][heads][queries][keys] (each row a softmax). It builds its controls, token
// columns and heat map inside `root` (class "attention-viewer", styled by attention_viewer.css),
// replacing what was there, so a page may mount it again for another sentence. Tokens are always
// set as text, never as markup. No outside resources and no requests.
"use strict";

const AttentionViewer = (() => {
  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function addOption(select, value, text) {
    const option = element("option", "", text);
    option.value = String(value);
    select.append(option);
  }

  function labelled(text, select) {
    const label = element("label", "", `${text} `);
    label.append(select);
    return label;
  }

  function mount(root, data) {
    root.classList.add("attention-viewer");
    const kindSelect = element("select", "kind");
    const layerSelect = element("select", "layer");
    const headSelect = element("select", "head");
    const kindLabel = labelled("Attention", kindSelect);
    kindLabel.hidden = data.kinds.length < 2;  // one kind: nothing to choose
    const controls = element("div", "controls");
    controls.append(kindLabel, labelled("Layer", layerSelect), labelled("Head", headSelect));
    const note = element("p", "note");
    const status = element("div", "status");
    status.setAttribute("aria-live", "polite");
    const queries = element("div", "column queries");
    const keys = element("div", "column keys");
    const grid = element("div", "matrix");
    grid.setAttribute("aria-hidden", "true");
    const scroll = element("div", "scroll");
    scroll.append(grid);
    const panes = element("div", "panes");
    panes.append(queries, keys, scroll);
    const legend = element("p", "legend",
      "Shade: each weight relative to the largest one shown (heat map: to its row's largest). " +
      "Numbers: the weights; a query's weights over all keys sum to 1.");
    root.replaceChildren(controls, note, status, panes, legend);

    // focus: the token whose weights are shown, {side: "query" | "key", index}; hover wins over a click.
    const state = { kind: 0, layer: 0, head: -1, selected: null, hover: null };
    const kind = () => data.kinds[state.kind];
    const language = (side) => kind()[side === "query" ? "queries" : "keys"];  // "source" or "target"
    const tokens = (side) => data.tokens[language(side)];
    const rgb = getComputedStyle(root).getPropertyValue("--heat").trim();
    const heat = (alpha) => `rgba(${rgb}, ${alpha.toFixed(3)})`;

    // The [queries][keys] weights of the chosen kind, layer and head, or the mean over the heads.
    function matrix() {
      const heads = kind().weights[state.layer];
      if (state.head >= 0) return heads[state.head];
      const mean = (q, k) => heads.reduce((sum, h) => sum + h[q][k], 0) / heads.length;
      return heads[0].map((row, q) => row.map((_, k) => mean(q, k)));
    }

    function buildColumn(container, side) {
      container.replaceChildren(element("h2", "", `${side === "query" ? "Queries" : "Keys"} (${language(side)})`));
      tokens(side).forEach((token, index) => {
        const button = element("button", "token");
        button.type = "button";
        button.dataset.side = side;
        button.dataset.index = String(index);
        button.append(element("span", "text", token), element("span", "weight"));
        container.append(button);
      });
    }

    function buildKind() {
      const layers = kind().weights.length, heads = kind().weights[0].length;
      state.layer = Math.min(state.layer, layers - 1);
      state.head = Math.min(state.head, heads - 1);
      layerSelect.replaceChildren();
      for (let l = 0; l < layers; l++) addOption(layerSelect, l, String(l + 1));
      headSelect.replaceChildren();
      addOption(headSelect, -1, "all (mean)");
      for (let h = 0; h < heads; h++) addOption(headSelect, h, String(h + 1));
      layerSelect.value = String(state.layer);
      headSelect.value = String(state.head);
      note.textContent = kind().note;
      buildColumn(queries, "query");
      buildColumn(keys, "key");
      const [rows, columns] = [tokens("query").length, tokens("key").length];
      grid.style.gridTemplateColumns = `repeat(${columns}, auto)`;
      grid.replaceChildren();
      for (let q = 0; q < rows; q++) {
        for (let k = 0; k < columns; k++) {
          const cell = element("div", "cell");
          cell.dataset.query = String(q);
          cell.dataset.key = String(k);
          grid.append(cell);
        }
      }
      render();
    }

    function render() {
      const m = matrix();
      const focus = state.hover || state.selected;
      // The weights on the side facing the focus: a query's row, or a key's column.
      const shown = focus && (focus.side === "query" ? m[focus.index] : m.map((row) => row[focus.index]));
      const peak = shown ? Math.max(...shown) : 0;
      for (const button of root.querySelectorAll(".token")) {
        const side = button.dataset.side, index = Number(button.dataset.index);
        const value = shown && focus.side !== side ? shown[index] : null;
        button.classList.toggle("active", same(focus, { side, index }));
        button.setAttribute("aria-pressed", String(same(state.selected, { side, index })));
        const shade = value === null || peak === 0 ? 0 : value / peak;
        button.style.backgroundColor = value === null ? "" : heat(shade);
        button.classList.toggle("strong", shade > 0.55);  // light text on a dark shade
        button.querySelector(".weight").textContent = value === null ? "" : value.toFixed(3);
      }
      const query = tokens("query"), key = tokens("key");
      for (const cell of grid.children) {
        const q = Number(cell.dataset.query), k = Number(cell.dataset.key);
        const rowPeak = Math.max(...m[q]);
        cell.style.backgroundColor = heat(rowPeak > 0 ? m[q][k] / rowPeak : 0);
        cell.classList.toggle("focus", Boolean(focus && (focus.side === "query" ? q : k) === focus.index));
        cell.title = `${query[q]} \u2192 ${key[k]}: ${m[q][k].toFixed(3)}`;
      }
      root.dataset.focus = focus ? `${focus.side}:${focus.index}` : "";
      status.textContent = focus ? describe(focus, shown) :
        "Hover, focus or click a token: a query shows where it looks, a key shows who looks at it.";
    }

    function describe(focus, shown) {
      const best = shown.indexOf(Math.max(...shown));
      const [mine, theirs] = focus.side === "query" ? ["query", "key"] : ["key", "query"];
      const verb = mine === "query" ? "looks most at" : "is looked at most by";
      const quote = (side, i) => `${language(side)} token ${i + 1} \u201c${tokens(side)[i]}\u201d`;
      return `${quote(mine, focus.index)} ${verb} ${quote(theirs, best)} (${shown[best].toFixed(3)}).`;
    }

    function tokenAt(event) {
      const button = event.target.closest && event.target.closest(".token");
      return button && { side: button.dataset.side, index: Number(button.dataset.index) };
    }

    function cellAt(event) {
      const cell = event.target.closest && event.target.closest(".cell");
      return cell && { side: "query", index: Number(cell.dataset.query) };
    }

    for (const [container, find] of [[queries, tokenAt], [keys, tokenAt], [grid, cellAt]]) {
      container.addEventListener("click", (event) => {
        const target = find(event);
        if (!target) return;
        state.selected = same(target, state.selected) ? null : target;  // a second click lets go
        render();
      });
      // Hover, or keyboard focus on a token, previews it.
      for (const type of ["mouseover", "focusin"]) {
        container.addEventListener(type, (event) => {
          const target = find(event);
          if (target && !same(target, state.hover)) { state.hover = target; render(); }
        });
      }
      for (const type of ["mouseleave", "focusout"]) {
        container.addEventListener(type, () => { state.hover = null; render(); });
      }
    }
    kindSelect.addEventListener("change", () => {
      state.kind = Number(kindSelect.value);
      state.selected = state.hover = null;  // another kind has other tokens on each side
      buildKind();
    });
    layerSelect.addEventListener("change", () => { state.layer = Number(layerSelect.value); render(); });
    headSelect.addEventListener("change", () => { state.head = Number(headSelect.value); render(); });

    data.kinds.forEach((k, i) => addOption(kindSelect, i, k.label));
    buildKind();
  }

  const same = (a, b) => Boolean(a && b && a.side === b.side && a.index === b.index);

  return { mount };
})();
