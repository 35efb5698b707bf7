"""What the CI workflows run besides the release tool: the reviewer's summary (`summary`), the
deploy workflow's drift guard (`drift`) and the bake decision for a job summary (`bake_report`).
`python -m bluegreen.ci` prints them as markdown (docs/ci-cd.md)."""
