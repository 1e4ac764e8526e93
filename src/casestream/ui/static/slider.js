// Progressive enhancement of the case page's slider: the page works without it (move
// the slider, press Show). With it, the label follows the slider and letting go shows
// that moment.
(function () {
  var slider = document.getElementById("step");
  var label = document.getElementById("step-label");
  if (!slider || !label) return;
  var labels = JSON.parse(slider.getAttribute("data-labels") || "[]");
  slider.addEventListener("input", function () {
    label.textContent = labels[Number(slider.value)] || "";
  });
  slider.addEventListener("change", function () {
    slider.form.submit();
  });
})();
