/* The knowledge graph's viewer (tracl/web/graph.py): the SVG that GraphViz
 * drew is shown at a size where its labels can be read, inside a box that
 * scrolls, with zoom buttons, keys and dragging to move around.
 *
 * Without this script the SVG keeps its natural size (labels of 13 px)
 * in the scrolling box. With it, a graph starts at the zoom that fits the
 * box's width, but never so small that a concept's label is under
 * MIN_LABEL_PX pixels, nor larger than natural; "Fit" then shows the whole
 * graph however small, "100%" its natural size.
 *
 * Keys, on the box or any link in it: + and - zoom, 0 fits, 1 is natural
 * size; the arrow keys scroll the box (the browser's own). The buttons are
 * rendered by the server, hidden, with their labels translated: shown here.
 * The drawing is never changed, only its size: links, tooltips and
 * colours stay GraphViz's. A graph put in the page later by another
 * script (the concept page's panel) starts when it arrives.
 */
(function () {
  "use strict";

  /* Smallest label the graph starts with, in CSS pixels. */
  var MIN_LABEL_PX = 11;
  var STEP = 1.25;
  var MIN_ZOOM = 0.05;
  var MAX_ZOOM = 4;
  /* Moves of more than this many pixels are drags, not clicks. */
  var DRAG_PX = 4;
  var PX_PER_UNIT = {pt: 96 / 72, px: 1, "": 1};

  function length(value) {
    var match = /^\s*([0-9.]+)\s*(pt|px)?\s*$/.exec(value || "");
    return match ? parseFloat(match[1]) * PX_PER_UNIT[match[2] || ""] : 0;
  }

  function clamp(zoom) {
    return Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, zoom));
  }

  /* The smallest concept label's font size on screen, in pixels. */
  function smallestLabel(svg) {
    var smallest = 0;
    var texts = svg.querySelectorAll("g.node text");
    for (var i = 0; i < texts.length; i++) {
      var size = parseFloat(texts[i].getAttribute("font-size") ||
                            window.getComputedStyle(texts[i]).fontSize);
      var ctm = texts[i].getScreenCTM();
      if (!size || !ctm) continue;
      var px = size * Math.sqrt(ctm.a * ctm.a + ctm.b * ctm.b);
      if (!smallest || px < smallest) smallest = px;
    }
    return smallest;
  }

  function GraphView(root) {
    var view = root.querySelector(".tracl-kg-view");
    var svg = view && view.querySelector("svg");
    var width = svg && length(svg.getAttribute("width"));
    var height = svg && length(svg.getAttribute("height"));
    if (!width || !height) return;
    var tools = root.querySelector(".tracl-kg-tools");
    var shown = root.querySelector(".tracl-kg-zoom");
    var zoom = 1;
    var self = this;

    function apply(next) {
      zoom = clamp(next);
      svg.style.width = (width * zoom) + "px";
      svg.style.height = (height * zoom) + "px";
      view.setAttribute("data-zoom", zoom.toFixed(3));
      if (shown) shown.textContent = Math.round(zoom * 100) + "%";
    }

    /* Zoom to `next`, the point (x, y) of the box staying where it is. */
    function zoomTo(next, x, y) {
      var old = zoom;
      if (x === undefined) {
        x = view.clientWidth / 2;
        y = view.clientHeight / 2;
      }
      var left = (view.scrollLeft + x) / old;
      var top = (view.scrollTop + y) / old;
      apply(next);
      view.scrollLeft = left * zoom - x;
      view.scrollTop = top * zoom - y;
    }

    /* The zoom that shows the whole graph in the box. */
    function fitZoom(widthOnly) {
      var style = window.getComputedStyle(view);
      var across = view.clientWidth - 2;
      var fit = across / width;
      if (!widthOnly) {
        var most = parseFloat(style.maxHeight) || view.clientHeight;
        fit = Math.min(fit, (most - 2) / height);
      }
      return fit > 0 ? fit : 1;
    }

    apply(1);
    var natural = smallestLabel(svg);
    var readable = natural ? MIN_LABEL_PX / natural : 1;
    // Natural size at most; the width of the box if the labels stay
    // readable; else readable labels, and the box scrolls.
    var start = Math.min(1, Math.max(fitZoom(true), Math.min(1, readable)));
    apply(start);

    self.zoomIn = function () { zoomTo(zoom * STEP); };
    self.zoomOut = function () { zoomTo(zoom / STEP); };
    self.fit = function () {
      apply(fitZoom(false));
      view.scrollLeft = view.scrollTop = 0;
    };
    self.actualSize = function () { zoomTo(1); };
    self.zoom = function () { return zoom; };
    self.labelPx = function () { return smallestLabel(svg); };

    if (tools) {
      var actions = {"zoom-in": self.zoomIn, "zoom-out": self.zoomOut,
                     "fit": self.fit, "actual": self.actualSize};
      tools.addEventListener("click", function (event) {
        var button = event.target.closest("button[data-action]");
        var action = button && actions[button.getAttribute("data-action")];
        if (action) action();
      });
      tools.hidden = false;
    }

    view.addEventListener("keydown", function (event) {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      var action = {"+": self.zoomIn, "=": self.zoomIn, "-": self.zoomOut,
                    "_": self.zoomOut, "0": self.fit,
                    "1": self.actualSize}[event.key];
      if (action) {
        event.preventDefault();
        action();
      }
    });

    // Dragging with the mouse moves the drawing; a click on a concept
    // stays a click (the pointer is captured only once a drag starts, so
    // a click's target is still the link).
    var drag = null;
    var dragged = false;
    view.addEventListener("pointerdown", function (event) {
      if (event.pointerType !== "mouse" || event.button !== 0) return;
      drag = {x: event.clientX, y: event.clientY, left: view.scrollLeft,
              top: view.scrollTop, id: event.pointerId, moving: false};
      dragged = false;
    });
    view.addEventListener("pointermove", function (event) {
      if (!drag || event.pointerId !== drag.id) return;
      var dx = event.clientX - drag.x;
      var dy = event.clientY - drag.y;
      if (!drag.moving && Math.abs(dx) + Math.abs(dy) > DRAG_PX) {
        drag.moving = true;
        view.classList.add("tracl-kg-dragging");
        view.setPointerCapture(drag.id);
      }
      if (drag.moving) {
        event.preventDefault();
        view.scrollLeft = drag.left - dx;
        view.scrollTop = drag.top - dy;
      }
    });
    function stop(event) {
      if (!drag || event.pointerId !== drag.id) return;
      dragged = drag.moving;
      if (drag.moving) view.classList.remove("tracl-kg-dragging");
      drag = null;
    }
    view.addEventListener("pointerup", stop);
    view.addEventListener("pointercancel", stop);
    view.addEventListener("click", function (event) {
      if (dragged) {
        // The end of a drag over a concept does not open it.
        event.preventDefault();
        event.stopPropagation();
        dragged = false;
      }
    }, true);
    // Neither a native drag of a link nor a text selection starts (either
    // would cancel the pointer's events); the box takes the focus a
    // mouse press would have given, for the keys.
    view.addEventListener("mousedown", function (event) {
      if (event.button !== 0) return;
      event.preventDefault();
      view.focus({preventScroll: true});
    });
    view.addEventListener("dragstart", function (event) {
      event.preventDefault();
    });

    root.traclGraphView = self;
  }

  function start() {
    var roots = document.querySelectorAll(".tracl-kg");
    for (var i = 0; i < roots.length; i++) {
      if (!roots[i].traclGraphView) new GraphView(roots[i]);
    }
  }

  /* A graph a page's script puts in later (the concept page moves its
   * panel in from a template) starts when it arrives. */
  function watch() {
    start();
    if (!window.MutationObserver) return;
    var pending = false;
    new MutationObserver(function (records) {
      if (pending) return;
      for (var i = 0; i < records.length; i++) {
        for (var j = 0; j < records[i].addedNodes.length; j++) {
          var added = records[i].addedNodes[j];
          if (added.nodeType === 1 && (added.matches(".tracl-kg") ||
                                       added.querySelector(".tracl-kg"))) {
            pending = true;
            window.requestAnimationFrame(function () {
              pending = false;
              start();
            });
            return;
          }
        }
      }
    }).observe(document.body, {childList: true, subtree: true});
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", watch);
  } else {
    watch();
  }
})();
