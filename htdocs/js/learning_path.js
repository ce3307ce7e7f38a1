/* The [[LearningPath]] macro: generate a preview of the concepts a query
 * finds, let the learner untick some, and create the path, all through
 * TracLearn's JSON API without reloading the page.
 *
 * Every text that comes from the server or the learner goes into the page
 * with textContent, never as HTML. The helpers it shares with the other
 * pages are js/page_helpers.js.
 */
(function () {
  "use strict";

  var EXCERPT_LENGTH = 200;
  var MIN_QUERY = 3;

  var page = tracl.page("tracl_learning_path");
  var settings = page.settings, message = page.message, plural = page.plural;
  var element = tracl.element;

  /* POST `body` as JSON to `path` below the API; resolves to the decoded
   * answer, rejects with a tracl.ApiFailure whose message is for a
   * person. */
  function post(path, body) {
    return page.request("POST", path, body);
  }

  function excerpt(text) {
    text = String(text || "").replace(/\s+/g, " ").trim();
    if (text.length <= EXCERPT_LENGTH)
      return text;
    var cut = text.slice(0, EXCERPT_LENGTH);
    var space = cut.lastIndexOf(" ");
    if (space > EXCERPT_LENGTH * 0.6)
      cut = cut.slice(0, space);
    return cut.replace(/[\s.,;:]+$/, "") + "\u2026";
  }

  function LearningPath(root) {
    this.root = root;
    this.form = root.querySelector(".tracl-lp-form");
    this.query = root.querySelector(".tracl-lp-query");
    this.difficulty = root.querySelector(".tracl-lp-difficulty");
    this.generateButton = root.querySelector(".tracl-lp-generate");
    this.status = root.querySelector(".tracl-lp-status");
    this.preview = root.querySelector(".tracl-lp-preview");
    this.actions = root.querySelector(".tracl-lp-actions");
    this.createButton = root.querySelector(".tracl-lp-create");
    this.count = root.querySelector(".tracl-lp-count");
    this.result = null;
    this.busy = false;
    var self = this;
    this.form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.generate();
    });
    this.createButton.addEventListener("click", function () {
      self.create();
    });
    this.preview.addEventListener("change", function () {
      self.updateCount();
    });
    this.query.addEventListener("input", function () {
      self.query.removeAttribute("aria-invalid");
    });
  }

  LearningPath.prototype.chosenDifficulty = function () {
    var level = parseInt(this.difficulty ? this.difficulty.value : "", 10);
    return level >= 1 && level <= 5 ? level : undefined;
  };

  LearningPath.prototype.setBusy = function (busy, text) {
    this.busy = busy;
    this.root.setAttribute("aria-busy", busy ? "true" : "false");
    this.root.classList.toggle("tracl-lp-busy", busy);
    var controls = this.root.querySelectorAll("input, select, button");
    for (var i = 0; i < controls.length; i++)
      controls[i].disabled = busy;
    if (busy) {
      this.say(text, "progress");
    } else {
      this.updateCount();
    }
  };

  /* Show `text` in the live region: kind as tracl.say takes it. */
  LearningPath.prototype.say = function (text, kind) {
    tracl.say(this.status, text, kind);
  };

  LearningPath.prototype.generate = function () {
    if (this.busy)
      return;
    var query = this.query.value.replace(/\s+/g, " ").trim();
    if (query.length < MIN_QUERY) {
      this.query.setAttribute("aria-invalid", "true");
      this.say(message("query_too_short"), "error");
      this.query.focus();
      return;
    }
    var body = {query: query};
    var difficulty = this.chosenDifficulty();
    if (difficulty)
      body.difficulty = difficulty;
    var self = this;
    this.setBusy(true, message("generating"));
    post("/learning-paths/generate", body).then(function (result) {
      self.setBusy(false);
      self.show(result, difficulty);
    }, function (error) {
      self.setBusy(false);
      self.say(error.message, "error");
    });
  };

  /* Group the chunks by subject, in the order the API ranked them. */
  function bySubject(chunks) {
    var groups = [], index = {};
    chunks.forEach(function (chunk) {
      var subject = chunk.subject || "";
      if (!(subject in index)) {
        index[subject] = groups.length;
        groups.push({subject: subject, chunks: []});
      }
      groups[index[subject]].chunks.push(chunk);
    });
    return groups;
  }

  /* The concepts a foundation is needed for: a list of names (empty for
   * a search result). */
  function neededFor(chunk) {
    var names = chunk && chunk.foundation_for;
    if (!Array.isArray(names))
      return [];
    return names.filter(function (name) {
      return typeof name === "string" && name;
    });
  }

  /* Names as a person lists them: "A", "A and B", "A, B and C". */
  function listOf(names) {
    if (names.length < 2)
      return names.join("");
    return message("list_pair", {
      first: names.slice(0, -1).join(message("list_separator")),
      last: names[names.length - 1]});
  }

  /* One concept of the preview: its box (ticked), its name, a note (how
   * relevant it is, or what it is needed for) and the start of its text.
   * Returns the list item. */
  function conceptItem(chunk, id, note, noteClass) {
    var item = element("li", "tracl-lp-concept");
    var box = element("input");
    box.type = "checkbox";
    box.id = id;
    box.value = chunk.chunk_id;
    box.checked = true;
    box.setAttribute("aria-describedby", id + "-text");
    var label = element("label");
    label.htmlFor = id;
    label.appendChild(element("span", "tracl-lp-concept-name",
                              chunk.concept));
    var noteNode = element("span", noteClass, note);
    noteNode.id = id + "-note";
    label.appendChild(noteNode);
    var text = element("p", "tracl-lp-excerpt", excerpt(chunk.content));
    text.id = id + "-text";
    item.appendChild(box);
    item.appendChild(label);
    item.appendChild(text);
    return item;
  }

  LearningPath.prototype.show = function (result, difficulty) {
    var chunks = (result && result.chunks) || [];
    var preview = this.preview;
    preview.textContent = "";
    if (!chunks.length) {
      this.result = null;
      preview.hidden = true;
      this.actions.hidden = true;
      this.say(result && result.message ? result.message :
               message("nothing_found"), "warning");
      return;
    }
    this.result = {query: result.query, difficulty: difficulty};
    var prefix = this.root.getAttribute("data-tracl-learning-path") || "0";
    // Search results first; the foundations they need come after them.
    var found = chunks.filter(function (chunk) {
      return !neededFor(chunk).length;
    });
    var foundations = chunks.filter(function (chunk) {
      return neededFor(chunk).length > 0;
    });
    var heading = element("h3", "tracl-lp-heading",
                          message("preview_heading", {query: result.query}));
    preview.appendChild(heading);
    var groups = bySubject(found);
    groups.forEach(function (group, g) {
      var fieldset = element("fieldset", "tracl-lp-subject");
      fieldset.appendChild(element("legend", null, group.subject));
      var list = element("ul", "tracl-lp-concepts");
      group.chunks.forEach(function (chunk, c) {
        var percent = Math.round(Number(chunk.relevance || 0) * 100) + "%";
        list.appendChild(conceptItem(
          chunk, "tracl-lp-" + prefix + "-c" + g + "-" + c,
          message("relevance", {percent: percent}), "tracl-lp-relevance"));
      });
      fieldset.appendChild(list);
      preview.appendChild(fieldset);
    });
    if (foundations.length)
      preview.appendChild(this.foundationSection(foundations, prefix));
    preview.hidden = false;
    this.actions.hidden = false;
    this.updateCount();
    var counts = {concepts: plural("concepts", found.length),
                  subjects: plural("subjects", groups.length),
                  foundations: plural("foundations", foundations.length)};
    this.say(message(foundations.length ? "found_foundations" : "found",
                     counts), "notice");
  };

  /* The section of the foundations: each ticked, saying which concepts
   * need it; unticking one says, beside it, which concepts will no longer
   * wait for it. */
  LearningPath.prototype.foundationSection = function (foundations,
                                                       prefix) {
    var sectionId = "tracl-lp-" + prefix + "-foundations";
    var section = element("section", "tracl-lp-foundations");
    section.setAttribute("aria-labelledby", sectionId + "-heading");
    var heading = element("h4", "tracl-lp-foundations-heading",
                          message("foundations_heading"));
    heading.id = sectionId + "-heading";
    section.appendChild(heading);
    section.appendChild(element("p", "tracl-lp-help",
                                message("foundations_help")));
    var list = element("ul", "tracl-lp-concepts");
    foundations.forEach(function (chunk, f) {
      var id = "tracl-lp-" + prefix + "-f" + f;
      var names = neededFor(chunk);
      var item = conceptItem(chunk, id,
                             message("needed_for", {concepts: listOf(names)}),
                             "tracl-lp-needed-for");
      item.classList.add("tracl-lp-foundation");
      var warning = element("p", "tracl-lp-ungated");
      warning.id = id + "-warning";
      warning.setAttribute("aria-live", "polite");
      item.appendChild(warning);
      var box = item.querySelector("input");
      box.setAttribute("aria-describedby", id + "-text " + id + "-warning");
      box.addEventListener("change", function () {
        tracl.say(warning, box.checked ? "" : message("not_gated", {
          concepts: listOf(names), foundation: chunk.concept}), "warning");
      });
      list.appendChild(item);
    });
    section.appendChild(list);
    return section;
  };

  LearningPath.prototype.checked = function () {
    var boxes = this.preview.querySelectorAll("input[type=checkbox]");
    var ids = [];
    for (var i = 0; i < boxes.length; i++)
      if (boxes[i].checked)
        ids.push(boxes[i].value);
    return {ids: ids, total: boxes.length};
  };

  LearningPath.prototype.updateCount = function () {
    if (!this.result)
      return;
    var chosen = this.checked();
    this.count.textContent = message("selected", {selected: chosen.ids.length,
                                                  total: chosen.total});
    this.createButton.disabled = this.busy || chosen.ids.length === 0;
  };

  LearningPath.prototype.create = function () {
    if (this.busy || !this.result)
      return;
    var chunkIds = this.checked().ids;
    if (!chunkIds.length) {
      this.say(message("none_selected"), "error");
      return;
    }
    var body = {query: this.result.query, chunk_ids: chunkIds};
    if (this.result.difficulty)
      body.difficulty = this.result.difficulty;
    var self = this;
    this.setBusy(true, message("creating"));
    post("/learning-paths/create", body).then(function (result) {
      var skipped = result.skipped || [];
      var text = message("created");
      if (skipped.length)
        text = message("skipped", {count: skipped.length}) + " " + text;
      self.say(text, skipped.length ? "warning" : "progress");
      // The path's page says where to start.
      window.location.assign(result.path_url || result.roadmap_url ||
                             settings().roadmap_url);
    }, function (error) {
      self.setBusy(false);
      self.say(error.message, "error");
    });
  };

  /* A link to this form (`WikiStart#tracl-lp-1`) puts the cursor in
   * its query box. */
  function focusTarget() {
    var id = window.location.hash.slice(1);
    var root = id && document.getElementById(id);
    if (root && root.tracLearningPath)
      root.tracLearningPath.query.focus();
  }

  function start() {
    var roots = document.querySelectorAll("[data-tracl-learning-path]");
    for (var i = 0; i < roots.length; i++) {
      if (!roots[i].tracLearningPath)
        roots[i].tracLearningPath = new LearningPath(roots[i]);
    }
    focusTarget();
    window.addEventListener("hashchange", focusTarget);
  }

  tracl.whenReady(start);
})();
