"""Identity: AWS Cognito (or its local emulator) as TracLearn's sign-in.

- `config`: the `[cognito]` settings every part reads;
- `tokens`: validating Cognito JWTs against the pool's keys;
- `idp`: calls to the Cognito user pool (sign-in, refresh, sign-out, users);
- `emulator`: the local Cognito emulator (moto) for the demo and tests;
- `login`: the login/logout pages and the browser session;
- `authenticator`: who a request is (bearer token or session cookie);
- `permissions`: LEARNING_* actions, groups and who sees a concept.
"""
