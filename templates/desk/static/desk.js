// The desk's only script: refresh badges while deliveries are moving, and show the inputs of
// the chosen story source. The pages work without it.
"use strict";
(function () {
  function refresh(node, pick) {
    if (!node || node.dataset.live !== "yes") return;
    window.setTimeout(function () {
      fetch(node.dataset.refresh, { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) {
          var fresh = pick(html);
          if (fresh !== null) {
            node.innerHTML = fresh.html;
            node.dataset.live = fresh.live ? "yes" : "no";
          }
          refresh(node, pick);
        })
        .catch(function () { refresh(node, pick); });
    }, 2000);
  }
  var moving = ["waiting", "retrying", "sending", "editing", "deleting"];
  function liveIn(root) {
    return Array.prototype.some.call(root.querySelectorAll("[data-state]"), function (b) {
      return moving.indexOf(b.dataset.state) >= 0;
    });
  }
  function parse(html, selector) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var found = selector ? doc.querySelector(selector) : doc.body;
    return found ? { html: found.innerHTML, live: liveIn(found) } : null;
  }
  document.addEventListener("DOMContentLoaded", function () {
    refresh(document.getElementById("story-rows"), function (html) {
      return parse("<table><tbody>" + html + "</tbody></table>", "tbody");
    });
    refresh(document.getElementById("story-badges"), function (html) {
      return parse(html, "#story-badges");
    });
    var form = document.getElementById("story-form");
    if (form) {
      var show = function () {
        var chosen = form.querySelector("input[name=source]:checked");
        var source = chosen ? chosen.value : "text";
        form.querySelector(".source-file").hidden = source !== "file";
        form.querySelector(".source-url").hidden = source !== "url";
      };
      form.addEventListener("change", show);
      show();
    }
  });
})();
