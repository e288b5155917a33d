// Attachment size indicator for the compose form: the total of the chosen
// files, and a warning before the form is sent when it cannot fit in
// Gmail's 35 MB message (base64 makes files a third larger).
(function () {
  var input = document.getElementById("files");
  var out = document.getElementById("files-size");
  if (!input || !out) return;
  var max = parseInt(input.getAttribute("data-max-bytes"), 10) || 36700160;
  function mb(n) { return (n / 1048576).toFixed(1) + " MB"; }
  input.addEventListener("change", function () {
    var total = 0;
    for (var i = 0; i < input.files.length; i++) total += input.files[i].size;
    var encoded = Math.ceil(total * 4 / 3);
    out.textContent = input.files.length + " file(s), " + mb(total) + (encoded > max ? " — too large: Gmail accepts 35 MB per message" : " of 35 MB");
    out.className = encoded > max ? "error" : "muted";
    input.setCustomValidity(encoded > max ? "Attachments are over Gmail's 35 MB limit" : "");
  });
})();
