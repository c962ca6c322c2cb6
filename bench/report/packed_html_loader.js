// Unpacks what bench/report/packed_html.py packed: Allure 3.18.0's app and the report's data.
// The block #bench-packed-report-data holds, in base64, one gzip stream: a line of JSON
// [[name, length in bytes], ...], then the files' bytes one after the other. Each file becomes
// window.allureReportData[name] = its bytes in base64, as Allure's own single-file report holds
// them; then window.allureReportDataReady = true lets the app (which polls it) read them. The
// block #bench-packed-report-app holds the app's code, gzip-packed: it runs as a script after that.
(function () {
  "use strict";
  var block = document.getElementById("bench-packed-report-data");
  var appBlock = document.getElementById("bench-packed-report-app");

  function toBase64(bytes) {
    var chunks = [];
    for (var start = 0; start < bytes.length; start += 0x8000) {
      chunks.push(String.fromCharCode.apply(null, bytes.subarray(start, start + 0x8000)));
    }
    return btoa(chunks.join(""));
  }

  async function gunzip(element) {
    var packed = await fetch("data:application/gzip;base64," + element.textContent.trim());
    var stream = packed.body.pipeThrough(new DecompressionStream("gzip"));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  async function unpack() {
    if (typeof DecompressionStream === "undefined") {
      throw new Error("this browser has no DecompressionStream (Chrome 80, Firefox 113, Safari 16.4 or later have)");
    }
    var unpacked = await Promise.all([gunzip(block), gunzip(appBlock)]);
    var bytes = unpacked[0];
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
    var app = document.createElement("script");
    app.textContent = new TextDecoder().decode(unpacked[1]);
    document.body.appendChild(app);
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
