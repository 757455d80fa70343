// Shared page behaviour: the arena and category pickers submit on change; tables with class "sortable" sort
// by clicking a header (numbers numerically, text alphabetically; click again to reverse).
(function () {
  "use strict";
  const picker = document.getElementById("arena-select");
  if (picker) picker.addEventListener("change", () => picker.form.submit());
  const category = document.getElementById("category-select");
  if (category) category.addEventListener("change", () => category.form.submit());

  function cellValue(row, index) {
    const cell = row.children[index];
    return cell ? cell.dataset.value !== undefined ? cell.dataset.value : cell.textContent.trim() : "";
  }

  document.querySelectorAll("table.sortable").forEach((table) => {
    const headers = Array.from(table.querySelectorAll("thead th"));
    headers.forEach((th, index) => {
      const button = th.querySelector("button") || th;
      button.addEventListener("click", () => {
        const numeric = th.dataset.type === "number";
        const ascending = th.getAttribute("aria-sort") !== "ascending";
        headers.forEach((h) => h.removeAttribute("aria-sort"));
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        const body = table.tBodies[0];
        const rows = Array.from(body.rows);
        rows.sort((a, b) => {
          const x = cellValue(a, index);
          const y = cellValue(b, index);
          const order = numeric ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
          return ascending ? order : -order;
        });
        rows.forEach((row) => body.appendChild(row));
      });
    });
  });
})();
