"""trac.ini.sample documents every option TracLearn declares, with its
default, so an admin reading it sees the whole configuration."""

import configparser
from pathlib import Path

from trac.config import BoolOption, ListOption, Option
from trac.util import as_bool
from trac.core import ComponentMeta

import support.envs  # noqa: F401  (loads every TracLearn module)
from tracl.environment import CUSTOM_FIELDS

SAMPLE = Path(__file__).resolve().parents[2] / 'trac.ini.sample'


def tracl_options():
    for component in ComponentMeta._components:
        if not component.__module__.startswith('tracl'):
            continue
        for value in vars(component).values():
            if isinstance(value, Option):
                yield component, value


def split_list(value):
    if isinstance(value, (list, tuple)):
        value = ','.join(value)
    return [item.strip() for item in value.split(',') if item.strip()]


def read_sample():
    parser = configparser.RawConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read(SAMPLE, encoding='utf-8')
    return parser


def test_every_option_is_in_the_sample_with_its_default():
    sample = read_sample()
    options = list(tracl_options())
    assert options, 'no TracLearn options found: are the modules loaded?'
    for component, option in options:
        assert sample.has_option(option.section, option.name), \
            '[%s] %s of %s' % (option.section, option.name,
                               component.__name__)
        default = option.default
        value = sample.get(option.section, option.name)
        if isinstance(option, BoolOption):
            value, default = as_bool(value), as_bool(default)
        elif isinstance(option, ListOption):
            value, default = split_list(value), split_list(default)
        else:
            default = str(default)
        assert value == default, '[%s] %s' % (option.section, option.name)


def test_every_option_has_documentation():
    for component, option in tracl_options():
        assert option.__doc__ and len(option.__doc__.split()) >= 5, \
            '[%s] %s' % (option.section, option.name)


def test_sample_custom_fields_match_what_setup_writes():
    sample = read_sample()
    assert dict(sample.items('ticket-custom')) == dict(CUSTOM_FIELDS)
