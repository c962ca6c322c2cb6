// Unpacks the report data that bench/report/packed_html.py packed, for Allure 3.18.0's app.
// The block #bench-packed-report-data holds, in base64, one gzip stream: a line of JSON
// [[name, length in bytes], ...], then the files' bytes one after the other. Each file becomes
// window.allureReportData[name] = its bytes in base64, as Allure's own single-file report holds
// them; then window.allureReportDataReady = true lets the app (which polls it) read them.
(function () {
  "use strict";
  var block = document.getElementById("bench-packed-report-data");

  function toBase64(bytes) {
    var chunks = [];
    for (var start = 0; start < bytes.length; start += 0x8000) {
      chunks.push(String.fromCharCode.apply(null, bytes.subarray(start, start + 0x8000)));
    }
    return btoa(chunks.join(""));
  }

  async function unpack() {
    if (typeof DecompressionStream === "undefined") {
      throw new Error("this browser has no DecompressionStream (Chrome 80, Firefox 113, Safari 16.4 or later have)");
    }
    var packed = await fetch("data:application/gzip;base64," + block.textContent.trim());
    var stream = packed.body.pipeThrough(new DecompressionStream("gzip"));
    var bytes = new Uint8Array(await new Response(stream).arrayBuffer());
    var newline = bytes.indexOf(10);
    var index = JSON.parse(new TextDecoder().decode(bytes.subarray(0, newline)));
    var offset = newline + 1;
    var files = {};
    index.forEach(function (entry) {
      files[entry[0]] = toBase64(bytes.subarray(offset, offset + entry[1]));
      offset += entry[1];
    });
    if (index.length !== Number(block.dataset.files) || offset !== bytes.length) {
      throw new Error("the packed data holds " + index.length + " files in " + offset + " of " + bytes.length
        + " bytes, where " + block.dataset.files + " files were packed");
    }
    Object.assign(window.allureReportData, files);
    window.allureReportDataReady = true;
  }

  unpack().catch(function (error) {
    var message = document.createElement("p");
    message.id = "bench-packed-report-error";
    message.setAttribute("role", "alert");
    message.style.cssText = "position:fixed;top:0;left:0;right:0;margin:0;padding:1em;z-index:10000;"
      + "background:#b00020;color:#fff;font:16px sans-serif";
    message.textContent = "The report could not unpack its data: " + error.message;
    document.body.appendChild(message);
    console.error(error);
  });
})();
