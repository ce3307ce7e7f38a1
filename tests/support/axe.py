"""axe-core, the accessibility checker, run on the page open in a Selenium
driver.

axe-core comes from the npm registry, pinned by the repository's
package-lock.json; `make test` installs it into node_modules with `npm ci`.
"""

import json
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
AXE_SCRIPT = os.path.join(ROOT, 'node_modules', 'axe-core', 'axe.min.js')

#: The rules of WCAG 2.0, 2.1 and 2.2, levels A and AA.
WCAG_TAGS = ('wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22a',
             'wcag22aa')

#: The impacts a page may not show.
FAILING_IMPACTS = ('serious', 'critical')

#: How long one axe run may take (a long page has many nodes to check).
RUN_SECONDS = 60


def axe_source():
    """The text of axe.min.js; fails the test when it is not installed."""
    if not os.path.exists(AXE_SCRIPT):
        pytest.fail('%s is missing: run `npm ci` in %s (`make test` does)'
                    % (AXE_SCRIPT, ROOT))
    with open(AXE_SCRIPT, encoding='utf-8') as f:
        return f.read()


def run_axe(driver, source, tags=WCAG_TAGS):
    """axe's violations of the page open in `driver`: a list of
    `{id, impact, help, helpUrl, nodes: [{target, html, failureSummary}]}`.
    `source` is `axe_source()`, read once by the caller."""
    if not driver.execute_script("return !!window.axe;"):
        driver.execute_script(source)
    driver.set_script_timeout(RUN_SECONDS)
    result = driver.execute_async_script("""
        var done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: 'tag', values: arguments[0]},
                           resultTypes: ['violations']})
          .then(function (results) { done(results.violations); },
                function (error) { done({error: String(error)}); });
        """, list(tags))
    if isinstance(result, dict):
        pytest.fail('axe.run failed: %s' % result['error'])
    keep(driver, result)
    return result


def keep(driver, violations):
    """Keep the page's violations, every node with its own summary, as
    JSON in TRACL_AXE_DIR when it is set (to see them all while fixing)."""
    folder = os.environ.get('TRACL_AXE_DIR')
    if folder:
        os.makedirs(folder, exist_ok=True)
        name = re.sub(r'[^A-Za-z0-9]+', '_', driver.current_url.split(
            '://', 1)[-1].split('/', 1)[-1]).strip('_') or 'root'
        with open(os.path.join(folder, name + '.json'), 'w') as f:
            json.dump(violations, f, indent=1)


def serious(violations):
    """The violations of `violations` whose impact is serious or
    critical."""
    return [v for v in violations if v.get('impact') in FAILING_IMPACTS]


def describe(violations):
    """One line a violation, with the selectors of its elements (at most
    five) and what axe says to do, for an assertion's message."""
    lines = []
    for v in violations:
        targets = [' '.join(map(str, node['target']))
                   for node in v['nodes']]
        more = ' (+%d more)' % (len(targets) - 5) if len(targets) > 5 else ''
        lines.append('%s [%s] %s: %s%s' % (v['id'], v['impact'], v['help'],
                                           ', '.join(targets[:5]), more))
        summary = v['nodes'][0].get('failureSummary') if v['nodes'] else ''
        if summary:
            lines.append('    ' + ' '.join(summary.split()))
    return '\n'.join(lines)
