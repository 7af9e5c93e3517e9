// Search and sort for tables marked data-interactive. No server, no libraries.
(function () {
  "use strict";
  function cellKey(cell, numeric) {
    if (!cell) { return numeric ? null : ""; }
    if (numeric) {
      var v = cell.getAttribute("data-sort");
      return v === null || v === "" ? null : parseFloat(v);
    }
    return cell.textContent.trim().toLowerCase();
  }
  function compare(a, b, numeric, dir) {
    if (numeric) {
      if (a === null && b === null) { return 0; }
      if (a === null) { return 1; }   // symbols last, whatever the direction
      if (b === null) { return -1; }
      return dir * (a - b);
    }
    return dir * a.localeCompare(b, "en-GB");
  }
  function setup(table) {
    var tbody = table.tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.forEach(function (row, i) { row.setAttribute("data-order", String(i)); });
    var total = rows.length;
    var search = document.querySelector('input[data-table="' + table.id + '"]');
    var status = document.getElementById(table.id + "-count");
    var noun = table.getAttribute("data-noun") || "rows";
    var sortText = "";
    function update() {
      var q = search ? search.value.trim().toLowerCase() : "";
      var shown = 0;
      rows.forEach(function (row) {
        var hit = q === "" || row.textContent.toLowerCase().indexOf(q) !== -1;
        row.hidden = !hit;
        if (hit) { shown += 1; }
      });
      if (status) { status.textContent = "Showing " + shown + " of " + total + " " + noun + "." + sortText; }
    }
    if (search) { search.addEventListener("input", update); }
    var buttons = table.querySelectorAll("button.sort");
    Array.prototype.forEach.call(buttons, function (button) {
      button.addEventListener("click", function () {
        var th = button.closest("th");
        var col = parseInt(button.getAttribute("data-col"), 10);
        var numeric = button.getAttribute("data-type") === "number";
        var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
        Array.prototype.forEach.call(table.querySelectorAll("thead th"), function (other) {
          if (other.hasAttribute("aria-sort")) { other.setAttribute("aria-sort", "none"); }
        });
        th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
        Array.prototype.forEach.call(table.querySelectorAll("button.sort .arrow"), function (a) { a.textContent = "\u2195"; });
        button.querySelector(".arrow").textContent = dir === 1 ? "\u25B2" : "\u25BC";
        var sorted = rows.slice().sort(function (r1, r2) {
          var c = compare(cellKey(r1.cells[col], numeric), cellKey(r2.cells[col], numeric), numeric, dir);
          return c !== 0 ? c : parseInt(r1.getAttribute("data-order"), 10) - parseInt(r2.getAttribute("data-order"), 10);
        });
        sorted.forEach(function (row) { tbody.appendChild(row); });
        sortText = " Sorted by " + button.getAttribute("data-label") + ", " + (dir === 1 ? "ascending" : "descending") + ".";
        update();
      });
    });
    update();
  }
  Array.prototype.forEach.call(document.querySelectorAll("table[data-interactive]"), setup);
})();
