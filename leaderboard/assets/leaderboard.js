// perceptbench leaderboard: sort any table by clicking a header, filter rows by family, name and status.
// Plain JavaScript, no dependencies, works from file://.
(function () {
  "use strict";

  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    var raw = cell ? (cell.getAttribute("data-value") || "") : "";
    if (!numeric) { return raw.toLowerCase(); }
    return raw === "" ? null : parseFloat(raw);
  }

  function sortTable(table, header) {
    var index = Array.prototype.indexOf.call(header.parentNode.children, header);
    var numeric = header.getAttribute("data-type") === "number";
    var current = header.getAttribute("aria-sort");
    // Scores start with the best (highest) first; text starts A-Z; a second click reverses.
    var descending = current ? current === "ascending" : numeric && header.textContent.trim() !== "#";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) { th.removeAttribute("aria-sort"); });
    header.setAttribute("aria-sort", descending ? "descending" : "ascending");
    Array.prototype.forEach.call(table.tBodies, function (body) {
      var rows = Array.prototype.filter.call(body.rows, function (row) {
        return !row.classList.contains("unranked-caption") && !row.classList.contains("config-row");
      });
      var partner = new Map();
      rows.forEach(function (row) {
        var next = row.nextElementSibling;
        if (next && next.classList.contains("config-row")) { partner.set(row, next); }
      });
      rows.sort(function (a, b) {
        var x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
        if (x === null && y === null) { return 0; }
        if (x === null) { return 1; }  // missing values always last
        if (y === null) { return -1; }
        var order = x < y ? -1 : x > y ? 1 : 0;
        return descending ? -order : order;
      });
      rows.forEach(function (row) {
        body.appendChild(row);
        if (partner.has(row)) { body.appendChild(partner.get(row)); }
      });
    });
  }

  function applyFilters() {
    var family = document.getElementById("family-filter");
    var search = document.getElementById("model-search");
    var showReported = document.getElementById("show-reported");
    var wantFamily = family ? family.value : "";
    var needle = search ? search.value.trim().toLowerCase() : "";
    var reported = showReported ? showReported.checked : true;
    document.querySelectorAll("table.leaderboard tbody tr[data-model]").forEach(function (row) {
      var visible = (!wantFamily || row.getAttribute("data-family") === wantFamily)
        && (!needle || row.getAttribute("data-model").toLowerCase().indexOf(needle) !== -1)
        && (reported || row.getAttribute("data-status") !== "reported");
      row.classList.toggle("hidden", !visible);
    });
  }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header) {
      header.addEventListener("click", function () { sortTable(table, header); });
      header.title = header.title || "click to sort";
    });
  });
  ["family-filter", "model-search", "show-reported"].forEach(function (id) {
    var control = document.getElementById(id);
    if (control) { control.addEventListener("input", applyFilters); control.addEventListener("change", applyFilters); }
  });
})();
