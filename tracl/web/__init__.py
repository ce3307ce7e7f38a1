"""What TracLearn shows in the browser: pages, templates and static files."""
