/* The study panel of a concept ticket (tracl/web/concept_page.py): placed
 * after the ticket box, it submits answers, shows the grade with what it
 * rests on and the attempt history, saves notes and counts study time, all
 * through TracLearn's JSON progress API without reloading the page.
 *
 * The panel's markup is rendered on the server by Jinja with autoescape
 * (templates/tracl_concept.html): it is parsed once into an inert
 * <template> and moved into the page. Everything that comes from the
 * server or the learner afterwards goes in with textContent, never as
 * HTML. The helpers it shares with the other pages are js/page_helpers.js.
 *
 * The learner asks for an instructor's review of a grade from the history
 * (the disputes API): one request per concept may be pending; it can be
 * withdrawn. An instructor's decision is an attempt graded
 * "instructor:<sub>": the page names the instructor from its script data
 * (`grader_names`), never by the sub, and marks the attempt it replaced.
 *
 * An answer's `review` (what it did to the review schedule) is said in
 * words under its grade, and the schedule on the page follows: a first
 * mastery shows the next review, a review passed replaces "due now" with
 * it, a lapse says the concept is studied again. Dates are written as
 * Trac's format_date writes them for this reader (`date_format`).
 */
(function () {
  "use strict";

  /* How often time is counted while the learner is active, in ms. */
  var TICK = 5000;

  var page = tracl.page("tracl_concept");
  var settings = page.settings, messages = page.messages;
  var message = page.message, plural = page.plural, request = page.request;
  var element = tracl.element, percent = tracl.percent, say = tracl.say;
  var feedbackLine = page.feedbackLine;

  /* Minutes of study as a person reads them (as study_time() does). */
  function studyTime(minutes) {
    if (!minutes)
      return message("no_time");
    minutes = Math.round(minutes);
    if (minutes < 1)
      return message("less_than_minute");
    var hours = Math.floor(minutes / 60);
    minutes = minutes % 60;
    if (!hours)
      return plural("minute", minutes);
    if (!minutes)
      return plural("hour", hours);
    return plural("hour", hours) + " " + plural("minute", minutes);
  }

  /* The date of ISO time `iso` as Trac writes it for this reader: the
   * pattern (jQuery UI's datepicker tokens: yy, y, mm, m, MM, M, dd, d,
   * 'literal'), month names and time zone come from the server. */
  function formatDate(iso) {
    var when = new Date(iso);
    if (!iso || isNaN(when.getTime()))
      return iso || "";
    var format = settings().date_format || {};
    var parts = {};
    if (format.timezone && window.Intl && Intl.DateTimeFormat) {
      try {
        new Intl.DateTimeFormat("en-US", {
          timeZone: format.timezone, year: "numeric", month: "numeric",
          day: "numeric"
        }).formatToParts(when).forEach(function (part) {
          parts[part.type] = Number(part.value);
        });
      } catch (error) {
        parts = {};
      }
    }
    if (!parts.year) {
      var shifted = new Date(when.getTime() + (format.offset || 0) * 60000);
      parts = {year: shifted.getUTCFullYear(),
               month: shifted.getUTCMonth() + 1, day: shifted.getUTCDate()};
    }
    var months = format.months || {};
    var two = function (n) { return (n < 10 ? "0" : "") + n; };
    return (format.pattern || "yy-mm-dd").replace(
      /'([^']*)'|yy|y|MM|M|mm|m|dd|d/g, function (token, literal) {
        if (literal !== undefined)
          return literal || "'";
        switch (token) {
        case "yy": return String(parts.year);
        case "y": return two(parts.year % 100);
        case "MM": return (months.wide || [])[parts.month - 1] ||
                          String(parts.month);
        case "M": return (months.abbreviated || [])[parts.month - 1] ||
                         String(parts.month);
        case "mm": return two(parts.month);
        case "m": return String(parts.month);
        case "dd": return two(parts.day);
        default: return String(parts.day);
        }
      });
  }

  /* A key point's mark beside its word (the word is what is read out),
   * and the confidence levels, as the template has them. */
  var MARKS = {covered: "\u2713", partial: "\u25d0", missing: "\u2717"};
  var LEVELS = ["high", "medium", "low"];

  /* How sure the grader was: "Confidence: low \u2014 <reason>", with a
   * word of warning for a close call; null when it did not say. */
  function confidenceLine(confidence) {
    if (!confidence || LEVELS.indexOf(confidence.level) < 0)
      return null;
    var level = (messages().confidence_labels || {})[confidence.level] ||
      confidence.level;
    var line = element("p", "tracl-confidence tracl-confidence-" +
                       confidence.level,
                       confidence.reason ?
                       message("confidence", {level: level,
                                              reason: confidence.reason}) :
                       message("confidence_level", {level: level}));
    if (confidence.level === "low") {
      line.appendChild(document.createTextNode(" "));
      line.appendChild(element("span", "tracl-close-call",
                               message("close_call")));
    }
    return line;
  }

  /* One key point of a grade (its status one of MARKS'): the status as a
   * word with a mark, the point, and what to reread when the answer did
   * not fully give it. */
  function pointItem(point) {
    var status = point.status;
    var item = element("li", "tracl-point tracl-point-" + status);
    var badge = element("span", "tracl-point-status");
    var mark = element("span", "tracl-point-mark", MARKS[status]);
    mark.setAttribute("aria-hidden", "true");
    badge.appendChild(mark);
    badge.appendChild(document.createTextNode(
      (messages().point || {})[status] || status));
    item.appendChild(badge);
    item.appendChild(document.createTextNode(" "));
    item.appendChild(element("span", "tracl-point-text", point.point));
    if (status !== "covered" && point.source) {
      item.appendChild(document.createTextNode(" "));
      item.appendChild(element("span", "tracl-point-source",
                               message("reread", {source: point.source})));
    }
    return item;
  }

  /* What the grade `graded` (a graded answer or an attempt) rests on, as
   * the template's evidence() macro shows it: the confidence line, then
   * the key points and errors in a <details>, open when `open`. Appended
   * to `parent`; nothing at all for a grade that says none of it. */
  function showEvidence(parent, graded, open) {
    var line = confidenceLine(graded.confidence);
    if (line)
      parent.appendChild(line);
    // The server keeps only the statuses it knows; so does the page.
    var points = (graded.evidence || []).filter(function (point) {
      return MARKS.hasOwnProperty(point.status);
    });
    var errors = graded.errors || [];
    if (!points.length && !errors.length)
      return;
    var details = element("details", "tracl-evidence");
    details.open = !!open;
    details.appendChild(element("summary", null, message("evidence")));
    if (points.length) {
      var list = element("ul", "tracl-points");
      points.forEach(function (point) {
        list.appendChild(pointItem(point));
      });
      details.appendChild(list);
    }
    if (errors.length) {
      var wrongs = element("ul", "tracl-wrongs");
      errors.forEach(function (error) {
        wrongs.appendChild(element("li", "tracl-wrong", message("wrong", {
          claim: error.claim, correction: error.correction})));
      });
      details.appendChild(wrongs);
    }
    parent.appendChild(details);
  }

  function statusLabel(status) {
    return (messages().status || {})[status] || status;
  }

  /* Counts the seconds the learner spends on the page: visible and active
   * (input, scroll, pointer or key) within the last `idle_after` seconds.
   * Reports them every `heartbeat_interval` seconds. */
  function StudyClock(panel) {
    var self = this;
    this.panel = panel;
    this.active = 0;            // seconds counted, not yet reported
    this.credited = 0;          // seconds reported since the page loaded
    this.base = Number(settings().time_spent_minutes || 0);
    this.lastActivity = Date.now();
    this.lastTick = Date.now();
    this.lastBeat = Date.now();
    this.sending = false;
    var touched = function () {
      self.lastActivity = Date.now();
    };
    ["keydown", "mousedown", "mousemove", "wheel", "touchstart", "input",
     "focusin"].forEach(function (name) {
      document.addEventListener(name, touched, {passive: true});
    });
    window.addEventListener("scroll", touched, {passive: true});
    document.addEventListener("visibilitychange", function () {
      self.tick();
      if (document.visibilityState === "hidden")
        self.beat(true);
      else
        self.lastTick = Date.now();
    });
    window.addEventListener("pagehide", function () {
      self.tick();
      self.beat(true);
    });
    this.timer = window.setInterval(function () {
      self.tick();
      if (Date.now() - self.lastBeat >=
          (settings().heartbeat_interval || 30) * 1000)
        self.beat(false);
    }, TICK);
  }

  StudyClock.prototype.studying = function (now) {
    return document.visibilityState === "visible" &&
      now - this.lastActivity <= (settings().idle_after || 120) * 1000;
  };

  StudyClock.prototype.tick = function () {
    var now = Date.now();
    // A tick that comes late (a sleeping laptop, a throttled tab) counts
    // at most two ticks' time.
    var elapsed = Math.min(now - this.lastTick, 2 * TICK) / 1000;
    this.lastTick = now;
    if (elapsed > 0 && this.studying(now))
      this.active += elapsed;
  };

  /* Seconds to report with an answer; they count as reported. */
  StudyClock.prototype.take = function () {
    this.tick();
    var seconds = Math.floor(this.active);
    this.active -= seconds;
    this.lastBeat = Date.now();
    return seconds;
  };

  /* Seconds of an answer that was not recorded: report them later. */
  StudyClock.prototype.giveBack = function (seconds) {
    this.active += seconds;
  };

  StudyClock.prototype.beat = function (leaving) {
    var max = settings().max_heartbeat || 300;
    var seconds = Math.min(Math.floor(this.active), max);
    this.lastBeat = Date.now();
    if (seconds < 1 || (this.sending && !leaving))
      return;
    var self = this;
    this.active -= seconds;
    this.sending = true;
    request("POST", "/heartbeat", {seconds: seconds}, leaving)
      .then(function () {
        self.sending = false;
        self.credited += seconds;
        self.panel.showTime(self.base + self.credited / 60);
      }, function () {
        // Counted again with the next beat (the server caps what it
        // credits to the time since the learner's last activity).
        self.sending = false;
        self.active = Math.min(self.active + seconds, max);
      });
  };

  /* The server's total after an answer: what was reported is in it. */
  StudyClock.prototype.reset = function (minutes) {
    this.base = Number(minutes || 0);
    this.credited = 0;
  };

  function ConceptPanel(root) {
    this.root = root;
    this.state = root.getAttribute("data-state");
    this.answerForm = root.querySelector(".tracl-answer-form");
    this.notesForm = root.querySelector(".tracl-notes-form");
    this.result = root.querySelector(".tracl-result");
    this.clock = null;
    this.busy = false;
    this.followUpBusy = false;
    if (this.answerForm)
      this.setUpAnswer();
    var box = root.querySelector(".tracl-follow-up");
    if (box)
      this.setUpFollowUp(box);
    this.setUpReviews();
    if (this.notesForm)
      this.setUpNotes();
    if (!settings().read_only && this.state !== "locked")
      this.clock = new StudyClock(this);
  }

  ConceptPanel.prototype.showTime = function (minutes) {
    var node = this.root.querySelector(".tracl-time-value");
    if (node)
      node.textContent = studyTime(minutes);
  };

  ConceptPanel.prototype.showStatus = function (status, bestScore) {
    var summary = this.root.querySelector(".tracl-concept-summary");
    var badge = summary && summary.querySelector(".tracl-status");
    if (badge) {
      badge.className = "tracl-status tracl-status-" + status;
      badge.textContent = statusLabel(status);
    }
    var best = summary && summary.querySelector(".tracl-best");
    if (best && bestScore !== null && bestScore !== undefined) {
      best.textContent = message("best", {percent: percent(bestScore)});
      best.hidden = false;
    }
  };

  // The answer box ----------------------------------------------------

  ConceptPanel.prototype.setUpAnswer = function () {
    var self = this;
    var form = this.answerForm;
    this.answer = form.querySelector("textarea");
    this.count = form.querySelector(".tracl-count");
    this.submitButton = form.querySelector(".tracl-submit");
    this.answerStatus = form.querySelector(".tracl-answer-status");
    tracl.onAnswer(form, this.answer, function () {
      self.submit();
    }, function () {
      self.updateCount();
    });
    this.updateCount();
  };

  ConceptPanel.prototype.updateCount = function () {
    page.showCount(this.answer, this.count);
  };

  ConceptPanel.prototype.setBusy = function (busy) {
    this.busy = busy;
    tracl.showBusy(this.answerForm, this.submitButton, this.answer, busy,
                   message(busy ? "grading" : "submit"));
    // A locked concept takes no answer, busy or not.
    this.submitButton.disabled = busy || !!this.locked;
  };

  ConceptPanel.prototype.submit = function () {
    if (this.busy || this.followUpBusy || this.locked || !this.answerForm)
      return;
    var text = this.answer.value.trim();
    var problem = page.answerProblem(text);
    if (problem)
      return tracl.refuse(this.answer, this.answerStatus, problem);
    var self = this;
    var seconds = this.clock ? this.clock.take() : 0;
    this.setBusy(true);
    this.result.hidden = true;
    say(this.answerStatus, message("grading_status"), "progress");
    var body = {answer: text, time_spent_seconds: seconds};
    // The question on the page: if it changed since, the server says so
    // (409 question_changed) rather than grade against another rubric.
    if (settings().question_id)
      body.question_id = settings().question_id;
    request("PUT", "/submit-answer", body).then(function (graded) {
      self.setBusy(false);
      say(self.answerStatus, "");
      self.showResult(graded, text);
    }, function (failure) {
      if (self.clock)
        self.clock.giveBack(seconds);
      self.setBusy(false);
      self.showFailure(failure);
    });
  };

  ConceptPanel.prototype.showFailure = function (failure) {
    // Nothing was recorded: the learner's text stays in the box.
    if (failure.status === 503 && failure.error.answer &&
        !this.answer.value.trim())
      this.answer.value = failure.error.answer;
    this.updateCount();
    if (failure.status === 409 && failure.error.prerequisites) {
      say(this.answerStatus, "");
      this.lock(failure.error.prerequisites, failure.message);
      return;
    }
    if (failure.status === 400)
      this.answer.setAttribute("aria-invalid", "true");
    say(this.answerStatus, failure.message, "error");
  };

  ConceptPanel.prototype.showResult = function (graded, answer) {
    var result = this.result;
    result.textContent = "";
    result.className = "tracl-result " +
      (graded.mastered ? "tracl-result-mastered" : "tracl-result-weak");
    result.appendChild(element(
      "p", "tracl-result-score",
      message("score", {percent: percent(graded.score)})));
    result.appendChild(element("p", "tracl-result-verdict",
                               message(graded.mastered ? "mastered" :
                                       "not_mastered")));
    if (graded.feedback)
      result.appendChild(feedbackLine("tracl-result-feedback",
                                      graded.feedback));
    showEvidence(result, graded, true);
    result.hidden = false;
    // A new answer closes the previous follow-up; a close call asks one.
    this.removeFollowUp();
    if (graded.follow_up && !graded.mastered)
      this.showFollowUp(graded.follow_up);
    this.showStatus(graded.status, graded.best_score);
    var review = graded.review || {};
    if (graded.mastered && this.state !== "mastered")
      this.master(graded);
    this.showReview(review, graded.mastered);
    this.refresh(graded, answer);
  };

  /* What the answer did to the review schedule, in words under its grade,
   * and the schedule on the page brought up to date. */
  ConceptPanel.prototype.showReview = function (review, mastered) {
    var date = review.due ? formatDate(review.due) : "";
    var words = null;
    if (review.kind === "first")
      words = message("review_first", {date: date});
    else if (review.kind === "review" && review.lapsed)
      words = message("review_lapsed");
    else if (review.kind === "review")
      words = message("review_passed", {date: date});
    else if (review.kind === "practice")
      words = message("review_practice", {date: date});
    else if (review.kind === "relearning" && mastered)
      words = message("review_relearned", {date: date});
    if (!words)
      return;
    this.result.appendChild(element("p", "tracl-result-review", words));
    if (review.kind === "review" && review.lapsed)
      this.lapse();
    else if (review.kind !== "practice" && date)
      this.showNextReview(date, review.due);
    if (review.kind === "review" && !review.lapsed)
      this.removeAnswerForm();
  };

  /* "Next review: <date>" in the mastered block, instead of what the
   * schedule said before (due now, recall today). */
  ConceptPanel.prototype.showNextReview = function (date, iso) {
    var block = this.root.querySelector(".tracl-mastered");
    if (!block)
      return;
    var line = element("p", "tracl-schedule tracl-message tracl-notice");
    var parts = message("next_review", {date: "\u0000"}).split("\u0000");
    var time = element("time", null, date);
    time.setAttribute("datetime", iso);
    line.appendChild(document.createTextNode(parts[0]));
    line.appendChild(time);
    line.appendChild(document.createTextNode(parts.slice(1).join("")));
    var old = block.querySelector(".tracl-schedule");
    if (old)
      block.replaceChild(line, old);
    else
      block.insertBefore(line, block.children[1] || null);
  };

  /* The due review was done: its answer box goes, the grade stays. */
  ConceptPanel.prototype.removeAnswerForm = function () {
    var help = this.root.querySelector(".tracl-review-help");
    if (help)
      help.parentNode.removeChild(help);
    if (this.answerForm) {
      var holder = this.answerForm.closest(".tracl-practice") ||
        this.answerForm;
      holder.parentNode.removeChild(holder);
      this.answerForm = null;
    }
    this.result.setAttribute("tabindex", "-1");
    this.result.focus();
  };

  /* Forgotten at a due review: no longer mastered, studied again with the
   * same answer box. */
  ConceptPanel.prototype.lapse = function () {
    var self = this;
    [".tracl-mastered", ".tracl-review-help"].forEach(function (selector) {
      var node = self.root.querySelector(selector);
      if (node)
        node.parentNode.removeChild(node);
    });
    this.state = "open";
    this.root.setAttribute("data-state", "open");
    this.root.className = this.root.className
      .replace(/tracl-concept-\w+/, "tracl-concept-open");
    if (this.answerForm && !this.root.querySelector(".tracl-lapsed")) {
      this.answerForm.parentNode.insertBefore(
        element("p", "tracl-schedule tracl-lapsed tracl-message " +
                "tracl-warning", message("lapsed")), this.answerForm);
    }
  };

  /* The concept is mastered: the answer box gives way to the mastered
   * state; the ticket's own status shows on reload. */
  ConceptPanel.prototype.master = function (graded) {
    this.state = "mastered";
    this.root.setAttribute("data-state", "mastered");
    this.root.className = this.root.className
      .replace(/tracl-concept-\w+/, "tracl-concept-mastered");
    var block = element("div", "tracl-mastered");
    var line = element("p");
    line.appendChild(element("span", "tracl-badge", statusLabel("mastered")));
    line.appendChild(document.createTextNode(
      " " + message("best", {percent: percent(graded.best_score)})));
    block.appendChild(line);
    var reload = element("p", "tracl-reload");
    reload.appendChild(document.createTextNode(
      message(settings().expected_answer_on_mastery ? "reload_expected" :
              "reload") + " "));
    var link = element("a", null, message("reload_link"));
    link.href = window.location.pathname + window.location.search;
    reload.appendChild(link);
    block.appendChild(reload);
    this.answerForm.parentNode.replaceChild(block, this.answerForm);
    this.answerForm = null;
    this.showNext(block, reload);
    // The box that had the focus is gone: the result takes it.
    this.result.setAttribute("tabindex", "-1");
    this.result.focus();
  };

  /* What to study next, read from the path's API (its `next_up`, the
   * rule the server renders the line with), goes before `before` in the
   * mastered `block`: "Next: <concept>", linked. Without a path, or when
   * nothing is left to study, or when the path cannot be read, the
   * mastered state stands alone. */
  ConceptPanel.prototype.showNext = function (block, before) {
    var url = settings().path_api_url;
    if (!url || !window.fetch)
      return;
    fetch(url, {credentials: "same-origin",
                headers: {"Accept": "application/json"}})
      .then(function (response) {
        return response.ok ? response.json() : null;
      })
      .then(function (path) {
        var next = path && path.next_up;
        if (!next || next.ticket_id === settings().ticket_id ||
            block.querySelector(".tracl-next"))
          return;
        var line = element("p", "tracl-next", message("next") + " ");
        var link = element("a", "tracl-next-link", next.concept);
        link.href = settings().ticket_url + "/" +
          encodeURIComponent(next.ticket_id);
        line.appendChild(link);
        block.insertBefore(line, before);
      })
      .catch(function () {
        // Not worth an error: the learner can open the path themselves.
      });
  };

  /* The concept turned out locked (a prerequisite was added after the
   * page loaded): its blockers show above the answer box, which keeps the
   * learner's text but no longer submits. */
  ConceptPanel.prototype.lock = function (prerequisites, text) {
    var block = element("div", "tracl-locked");
    block.setAttribute("role", "note");
    block.appendChild(element("p", "tracl-message tracl-error", text));
    block.appendChild(element("h3", null, message("locked")));
    var list = element("ul", "tracl-blockers");
    prerequisites.forEach(function (blocker) {
      var item = element("li");
      var link = element("a", null, "#" + blocker.ticket_id + " " +
                         blocker.concept);
      link.href = settings().ticket_url + "/" +
        encodeURIComponent(blocker.ticket_id);
      item.appendChild(link);
      item.appendChild(document.createTextNode(" "));
      item.appendChild(element("span", "tracl-status tracl-status-" +
                               blocker.status, statusLabel(blocker.status)));
      list.appendChild(item);
    });
    block.appendChild(list);
    this.answerForm.parentNode.insertBefore(block, this.answerForm);
    this.submitButton.disabled = true;
    this.locked = true;
    this.state = "locked";
    this.root.setAttribute("data-state", "locked");
  };

  /* Reload the progress: the history with the new attempt and the time
   * the server now counts. Without it, the new attempt alone is shown. */
  ConceptPanel.prototype.refresh = function (graded, answer) {
    var self = this;
    request("GET", "", null).then(function (progress) {
      var attempts = progress.attempts || [];
      return self.loadTimes(attempts).then(function () {
        return progress;
      });
    }).then(function (progress) {
      self.showAttempts(progress.attempts || []);
      if (self.clock)
        self.clock.reset(progress.time_spent_minutes);
      self.showTime(progress.time_spent_minutes);
    }, function () {
      var list = self.attemptList();
      list.insertBefore(self.attemptItem({
        attempt: graded.attempt, answer: answer, score: graded.score,
        feedback: graded.feedback, grader: "", created_at: null,
        evidence: graded.evidence, errors: graded.errors,
        confidence: graded.confidence
      }), list.firstChild);
    });
  };

  /* Have the server write the times of `attempts` as the page writes
   * the others; resolves either way. */
  ConceptPanel.prototype.loadTimes = function (attempts) {
    return tracl.writeTimes(settings().times_url, attempts.map(
      function (attempt) { return attempt.created_at; }));
  };

  ConceptPanel.prototype.attemptList = function () {
    var history = this.root.querySelector(".tracl-history");
    var list = history.querySelector(".tracl-attempts");
    if (!list) {
      var empty = history.querySelector(".tracl-no-attempts");
      if (empty)
        history.removeChild(empty);
      list = element("ol", "tracl-attempts");
      history.appendChild(list);
    }
    return list;
  };

  /* The history as the server has it now. Every attempt's evidence is
   * collapsed: the result above shows the newest one open. */
  ConceptPanel.prototype.showAttempts = function (attempts) {
    var list = this.attemptList();
    list.textContent = "";
    var self = this;
    attempts.forEach(function (attempt) {
      list.appendChild(self.attemptItem(attempt));
    });
  };

  /* An instructor's decision is graded "instructor:<sub>". */
  var INSTRUCTOR = "instructor:";

  function isDecision(attempt) {
    return String(attempt.grader || "").indexOf(INSTRUCTOR) === 0;
  }

  /* The grader of `attempt` as the page says it: an instructor by name
   * (from the script data, else "an instructor"), never by the sub. */
  ConceptPanel.prototype.graderText = function (attempt) {
    if (isDecision(attempt)) {
      var name = (settings().grader_names || {})[String(attempt.attempt)];
      return message("graded_by_instructor",
                     {name: name || message("an_instructor")});
    }
    return attempt.grader ?
      message("graded_by", {grader: attempt.grader}) : "";
  };

  /* The number of the decision that replaced `attempt`, or null. */
  ConceptPanel.prototype.overriddenBy = function (attempt) {
    var by = attempt.overridden_by ||
      (settings().overridden || {})[String(attempt.attempt)];
    return by ? Number(by) : null;
  };

  ConceptPanel.prototype.attemptItem = function (attempt) {
    var decision = isDecision(attempt);
    var replacedBy = this.overriddenBy(attempt);
    var item = element("li", "tracl-attempt" +
                       (decision ? " tracl-attempt-decision" : "") +
                       (replacedBy ? " tracl-attempt-overridden" : ""));
    item.id = "tracl-attempt-" + attempt.attempt;
    item.setAttribute("data-attempt", attempt.attempt);
    var head = element("div", "tracl-attempt-head");
    head.appendChild(element("span", "tracl-attempt-number",
                             message("attempt", {n: attempt.attempt})));
    var score = percent(attempt.score);
    var threshold = percent(settings().threshold);
    if (replacedBy)
      // Replaced: struck through, and said in words below.
      head.appendChild(element("del", "tracl-score tracl-score-replaced",
                               score + "%"));
    else
      head.appendChild(element("span", score >= threshold ?
                               "tracl-score tracl-score-pass" : "tracl-score",
                               score + "%"));
    var grader = this.graderText(attempt);
    if (grader)
      head.appendChild(element(
        "span", decision ? "tracl-grader tracl-grader-instructor" :
          "tracl-grader", grader));
    if (attempt.created_at) {
      var when = element("time", null,
                         tracl.writtenTime(attempt.created_at) ||
                         formatDate(attempt.created_at));
      when.setAttribute("datetime", attempt.created_at);
      head.appendChild(when);
    }
    item.appendChild(head);
    if (replacedBy) {
      var regraded = element("p", "tracl-regraded");
      var link = element("a", null, message("regraded", {n: replacedBy}));
      link.href = "#tracl-attempt-" + replacedBy;
      regraded.appendChild(link);
      item.appendChild(regraded);
    }
    item.appendChild(element("p", "tracl-attempt-answer", attempt.answer));
    if (attempt.feedback)
      item.appendChild(feedbackLine("tracl-attempt-feedback",
                                    attempt.feedback));
    showEvidence(item, attempt, false);
    var review = element("div", "tracl-review");
    review.setAttribute("data-attempt", attempt.attempt);
    review.setAttribute("data-disputable",
                        !decision && !replacedBy ? "true" : "false");
    this.fillReview(review);
    item.appendChild(review);
    return item;
  };

  // A close call's follow-up question --------------------------------

  /* The box with follow-up `followUp` ({id, question}) and the form
   * replying to it, as the template's follow_up_box() has it; the
   * question is text. */
  function followUpBox(followUp) {
    var min = settings().min_answer || 10, max = settings().max_answer || 5000;
    var box = element("section", "tracl-follow-up");
    box.setAttribute("aria-labelledby", "tracl-follow-up-heading");
    box.setAttribute("data-follow-up-id", followUp.id);
    var heading = element("h3", null, message("follow_up_heading"));
    heading.id = "tracl-follow-up-heading";
    box.appendChild(heading);
    var question = element("p", "tracl-follow-up-question",
                           followUp.question);
    question.id = "tracl-follow-up-question";
    box.appendChild(question);
    var form = element("form", "tracl-follow-up-form");
    form.noValidate = true;
    var label = element("label", "tracl-answer-label",
                        message("follow_up_label"));
    label.htmlFor = "tracl-follow-up-reply";
    form.appendChild(label);
    var reply = element("textarea", "tracl-follow-up-reply");
    reply.id = "tracl-follow-up-reply";
    reply.name = "reply";
    reply.rows = 4;
    reply.cols = 78;
    reply.required = true;
    reply.setAttribute("minlength", min);
    reply.setAttribute("maxlength", max);
    reply.setAttribute("aria-describedby", "tracl-follow-up-question " +
                       "tracl-follow-up-help tracl-follow-up-count");
    form.appendChild(reply);
    var meta = element("div", "tracl-answer-meta");
    var help = element("span", "tracl-help", message("follow_up_help"));
    help.id = "tracl-follow-up-help";
    meta.appendChild(help);
    var count = element("span", "tracl-count");
    count.id = "tracl-follow-up-count";
    meta.appendChild(count);
    form.appendChild(meta);
    var buttons = element("div", "tracl-buttons");
    var send = element("button", "tracl-follow-up-send",
                       message("send_reply"));
    send.type = "submit";
    buttons.appendChild(send);
    form.appendChild(buttons);
    box.appendChild(form);
    var status = element("div", "tracl-follow-up-status");
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    box.appendChild(status);
    return box;
  }

  /* Ask follow-up `followUp` below the result. */
  ConceptPanel.prototype.showFollowUp = function (followUp) {
    var box = followUpBox(followUp);
    this.result.parentNode.insertBefore(box, this.result.nextSibling);
    this.setUpFollowUp(box);
  };

  ConceptPanel.prototype.removeFollowUp = function () {
    if (this.followUp && this.followUp.box.parentNode)
      this.followUp.box.parentNode.removeChild(this.followUp.box);
    this.followUp = null;
  };

  /* Wire the follow-up box `box` (the server's or followUpBox's). */
  ConceptPanel.prototype.setUpFollowUp = function (box) {
    var self = this;
    var form = box.querySelector(".tracl-follow-up-form");
    var reply = form.querySelector("textarea");
    var count = form.querySelector(".tracl-count");
    var follow = this.followUp = {
      id: Number(box.getAttribute("data-follow-up-id")), box: box,
      form: form, reply: reply,
      send: form.querySelector(".tracl-follow-up-send"),
      status: box.querySelector(".tracl-follow-up-status")
    };
    function counted() {
      page.showCount(reply, count);
    }
    follow.counted = counted;
    tracl.onAnswer(form, reply, function () {
      self.sendReply(follow);
    }, counted);
    counted();
  };

  ConceptPanel.prototype.sendReply = function (follow) {
    if (this.followUpBusy || this.busy || this.locked)
      return;
    var reply = follow.reply, send = follow.send, status = follow.status;
    var text = reply.value.trim();
    var problem = page.answerProblem(text, "reply_too_long");
    if (problem)
      return tracl.refuse(reply, status, problem);
    var self = this;
    var busy = function (on) {
      self.followUpBusy = on;
      tracl.showBusy(follow.form, send, reply, on,
                     message(on ? "sending" : "send_reply"));
    };
    var seconds = this.clock ? this.clock.take() : 0;
    busy(true);
    say(status, message("sending"), "progress");
    var body = {answer: text, time_spent_seconds: seconds,
                follow_up_id: follow.id};
    if (settings().question_id)
      body.question_id = settings().question_id;
    request("PUT", "/submit-answer", body).then(function (graded) {
      busy(false);
      self.showResult(graded, text);
      // The box is gone with the reply: the result takes the focus.
      self.result.setAttribute("tabindex", "-1");
      self.result.focus();
    }, function (failure) {
      if (self.clock)
        self.clock.giveBack(seconds);
      busy(false);
      if (failure.status === 409 && failure.error &&
          failure.error.code === "follow_up_lapsed") {
        // Nothing to reply to any more: the words stay, the form goes.
        follow.form.hidden = true;
        say(status, message("follow_up_closed"), "warning");
        if (self.answer && !self.answer.readOnly)
          self.answer.focus();
        return;
      }
      if (failure.status === 400)
        reply.setAttribute("aria-invalid", "true");
      say(status, failure.message, "error");
      reply.focus();
    });
  };

  // Reviews of grades -------------------------------------------------

  /* The concept's open request for a review ({id, attempt, reason}) and
   * the attempts reviewed at the learner's request, as the server said
   * at page load; kept up to date as the learner asks and withdraws. */
  ConceptPanel.prototype.setUpReviews = function () {
    var self = this;
    this.dispute = settings().dispute || null;
    this.reviewed = (settings().reviewed || []).map(Number);
    this.reviewBusy = false;
    this.reviewLive = this.root.querySelector(".tracl-review-live");
    var history = this.root.querySelector(".tracl-history");
    if (!history || settings().read_only)
      return;
    history.addEventListener("click", function (event) {
      var button = event.target.closest("button");
      if (!button || !history.contains(button))
        return;
      var review = button.closest(".tracl-review");
      if (!review)
        return;
      if (button.classList.contains("tracl-review-ask"))
        self.openReviewForm(review);
      else if (button.classList.contains("tracl-review-cancel"))
        self.closeReviewForm(review);
      else if (button.classList.contains("tracl-review-withdraw"))
        self.withdraw(review, button);
    });
  };

  /* What `review` (an attempt's .tracl-review block) shows now: reviewed,
   * pending with the reason and Withdraw, or Ask for a review while no
   * other request is pending; the same markup as the template's review(). */
  ConceptPanel.prototype.fillReview = function (review) {
    var number = Number(review.getAttribute("data-attempt"));
    var dispute = this.dispute;
    review.textContent = "";
    if (this.reviewed.indexOf(number) >= 0) {
      review.appendChild(element("p", "tracl-review-done",
                                 message("reviewed")));
    } else if (dispute && dispute.attempt === number) {
      var pending = element("div", "tracl-review-pending");
      pending.appendChild(element("p", "tracl-review-state",
                                  message("pending")));
      var reason = element("p", "tracl-review-reason");
      reason.appendChild(element("span", "tracl-review-reason-label",
                                 message("your_reason")));
      reason.appendChild(document.createTextNode(" "));
      reason.appendChild(element("span", "tracl-review-reason-text",
                                 dispute.reason));
      pending.appendChild(reason);
      if (!settings().read_only) {
        var buttons = element("div", "tracl-buttons");
        var withdraw = element("button", "tracl-review-withdraw",
                               message("withdraw"));
        withdraw.type = "button";
        withdraw.setAttribute("data-dispute-id", dispute.id);
        buttons.appendChild(withdraw);
        var status = element("span", "tracl-review-status");
        status.setAttribute("role", "status");
        status.setAttribute("aria-live", "polite");
        buttons.appendChild(status);
        pending.appendChild(buttons);
      }
      review.appendChild(pending);
    } else if (!dispute && !settings().read_only &&
               review.getAttribute("data-disputable") === "true") {
      var ask = element("button", "tracl-review-ask", message("ask_review"));
      ask.type = "button";
      ask.setAttribute("aria-expanded", "false");
      review.appendChild(ask);
    }
  };

  ConceptPanel.prototype.fillReviews = function () {
    var self = this;
    Array.prototype.forEach.call(
      this.root.querySelectorAll(".tracl-review"), function (review) {
        self.fillReview(review);
      });
  };

  ConceptPanel.prototype.reviewOf = function (number) {
    return this.root.querySelector(
      '.tracl-review[data-attempt="' + Number(number) + '"]');
  };

  /* Tell screen readers what became of a request (the block that said
   * it was rebuilt). */
  ConceptPanel.prototype.announce = function (text) {
    if (this.reviewLive)
      say(this.reviewLive, text);
  };

  /* The form asking for a review of the attempt of `review`: its reason
   * (labelled, counted), Submit and Cancel; Escape cancels. */
  ConceptPanel.prototype.openReviewForm = function (review) {
    var existing = review.querySelector(".tracl-review-form");
    if (existing) {
      existing.querySelector("textarea").focus();
      return;
    }
    var self = this;
    var number = review.getAttribute("data-attempt");
    var id = "tracl-reason-" + number;
    var min = settings().min_reason || 10, max = settings().max_reason || 1000;
    var form = element("form", "tracl-review-form");
    form.noValidate = true;
    var label = element("label", "tracl-review-label",
                        message("reason_label"));
    label.htmlFor = id;
    form.appendChild(label);
    var box = element("textarea", "tracl-review-input");
    box.id = id;
    box.name = "reason";
    box.rows = 4;
    box.setAttribute("minlength", min);
    box.setAttribute("maxlength", max);
    box.setAttribute("aria-describedby", id + "-help " + id + "-count");
    form.appendChild(box);
    var meta = element("div", "tracl-answer-meta");
    var help = element("span", "tracl-help", message("reason_help"));
    help.id = id + "-help";
    meta.appendChild(help);
    var count = element("span", "tracl-count");
    count.id = id + "-count";
    meta.appendChild(count);
    form.appendChild(meta);
    var buttons = element("div", "tracl-buttons");
    var send = element("button", "tracl-review-send", message("send_review"));
    send.type = "submit";
    buttons.appendChild(send);
    var cancel = element("button", "tracl-review-cancel", message("cancel"));
    cancel.type = "button";
    buttons.appendChild(cancel);
    form.appendChild(buttons);
    var status = element("div", "tracl-review-status");
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    form.appendChild(status);

    function counted() {
      page.showCount(box, count, {min: min, max: max});
    }
    box.addEventListener("input", function () {
      box.removeAttribute("aria-invalid");
      counted();
    });
    form.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && !self.reviewBusy) {
        event.preventDefault();
        self.closeReviewForm(review);
      } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        self.askForReview(review, form);
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.askForReview(review, form);
    });
    counted();
    var ask = review.querySelector(".tracl-review-ask");
    if (ask) {
      ask.setAttribute("aria-expanded", "true");
      ask.hidden = true;
    }
    review.appendChild(form);
    box.focus();
  };

  ConceptPanel.prototype.closeReviewForm = function (review) {
    if (this.reviewBusy)
      return;
    var form = review.querySelector(".tracl-review-form");
    if (form)
      review.removeChild(form);
    var ask = review.querySelector(".tracl-review-ask");
    if (ask) {
      ask.hidden = false;
      ask.setAttribute("aria-expanded", "false");
      ask.focus();
    }
  };

  ConceptPanel.prototype.askForReview = function (review, form) {
    if (this.reviewBusy)
      return;
    var box = form.querySelector("textarea");
    var send = form.querySelector(".tracl-review-send");
    var cancel = form.querySelector(".tracl-review-cancel");
    var status = form.querySelector(".tracl-review-status");
    var reason = box.value.trim();
    if (reason.length < (settings().min_reason || 10))
      return tracl.refuse(box, status, message("reason_too_short"));
    if (reason.length > (settings().max_reason || 1000))
      return tracl.refuse(box, status, message("reason_too_long"));
    var self = this;
    var number = Number(review.getAttribute("data-attempt"));
    var busy = function (on) {
      self.reviewBusy = on;
      form.setAttribute("aria-busy", on ? "true" : "false");
      send.disabled = cancel.disabled = on;
      send.textContent = message(on ? "sending" : "send_review");
      box.readOnly = on;
    };
    busy(true);
    say(status, "");
    this.announce(message("sending"));
    request("POST", "/disputes", {attempt: number, reason: reason})
      .then(function (opened) {
        busy(false);
        self.dispute = {id: opened.dispute_id, attempt: number,
                        reason: reason};
        self.fillReviews();
        self.announce(message("pending"));
        var withdraw = self.reviewOf(number).querySelector(
          ".tracl-review-withdraw");
        if (withdraw)
          withdraw.focus();
      }, function (failure) {
        busy(false);
        // The reason stays in the box; the server's words say why.
        if (failure.status === 400)
          box.setAttribute("aria-invalid", "true");
        say(status, failure.message, "error");
        box.focus();
      });
  };

  ConceptPanel.prototype.withdraw = function (review, button) {
    if (this.reviewBusy || !this.dispute)
      return;
    var self = this;
    var status = review.querySelector(".tracl-review-status");
    var number = Number(review.getAttribute("data-attempt"));
    var busy = function (on) {
      self.reviewBusy = on;
      button.disabled = on;
      button.textContent = message(on ? "withdrawing" : "withdraw");
    };
    busy(true);
    say(status, "");
    this.announce(message("withdrawing"));
    request("POST", "/disputes/" + encodeURIComponent(this.dispute.id) +
            "/withdraw", {}).then(function () {
      busy(false);
      self.dispute = null;
      self.fillReviews();
      self.announce(message("withdrawn"));
      var ask = self.reviewOf(number).querySelector(".tracl-review-ask");
      if (ask)
        ask.focus();
    }, function (failure) {
      busy(false);
      say(status, failure.message, "error");
      button.focus();
    });
  };

  // Notes -------------------------------------------------------------

  ConceptPanel.prototype.setUpNotes = function () {
    var self = this;
    var form = this.notesForm;
    this.notes = form.querySelector("textarea");
    this.saveButton = form.querySelector(".tracl-save-notes");
    this.notesStatus = form.querySelector(".tracl-notes-status");
    this.savingNotes = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      self.saveNotes();
    });
    this.notes.addEventListener("input", function () {
      say(self.notesStatus, message("unsaved"));
    });
    this.notes.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        self.saveNotes();
      }
    });
  };

  ConceptPanel.prototype.saveNotes = function () {
    if (this.savingNotes)
      return;
    var self = this;
    this.savingNotes = true;
    this.saveButton.disabled = true;
    say(this.notesStatus, message("saving"), "progress");
    request("PUT", "/notes", {notes: this.notes.value}).then(function () {
      self.savingNotes = false;
      self.saveButton.disabled = false;
      say(self.notesStatus, message("saved"), "notice");
    }, function (failure) {
      self.savingNotes = false;
      self.saveButton.disabled = false;
      say(self.notesStatus, failure.message, "error");
    });
  };

  // The page ----------------------------------------------------------

  /* The learner changes neither the name nor the text of a concept (the
   * server refuses it): Trac's edit form offers them by permission, so
   * they leave it here. */
  function restrictForm() {
    ["field-summary", "field-description"].forEach(function (id) {
      var field = document.getElementById(id);
      var row = field && field.closest("#propertyform tr");
      if (row)
        row.parentNode.removeChild(row);
    });
  }

  function place() {
    var holder = document.createElement("template");
    // Markup rendered and escaped by the server's template; see the top.
    holder.innerHTML = settings().panel || "";
    var panel = holder.content.querySelector("#tracl-concept");
    if (!panel)
      return null;
    var box = document.getElementById("ticket");
    if (box && box.parentNode) {
      box.parentNode.insertBefore(panel, box.nextSibling);
    } else {
      var content = document.getElementById("content") || document.body;
      content.insertBefore(panel, content.firstChild);
    }
    return panel;
  }

  function start() {
    if (document.getElementById("tracl-concept"))
      return;
    if (settings().restrict_form)
      restrictForm();
    var panel = place();
    if (panel)
      panel.tracConceptPanel = new ConceptPanel(panel);
  }

  tracl.whenReady(start);
})();
