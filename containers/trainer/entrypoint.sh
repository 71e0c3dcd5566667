# The trainer image's ENTRYPOINT, run by the image's statically linked busybox (no dynamic loader, so
# LD_PRELOAD, LD_AUDIT or LD_LIBRARY_PATH from a SubmitJob override reach no loader here), which starts
# the isolated interpreter with an emptied environment: only the variables named below are passed on
# (the same names as containers/trainer/environment.py PASSED_BY_WRAPPER; a test compares them), and
# PATH, HOME, LANG and LD_LIBRARY_PATH are constants of the image, never taken from the job.
set -eu
ENV_COMMAND="/bin/busybox env"
PYTHON=/opt/venv/bin/python
if [ "$#" -ne 0 ]; then
    # Batch appends a job's command (which ContainerOverrides may set) to the ENTRYPOINT as arguments.
    echo "ERROR trainer: the trainer takes no command or arguments, got $#" >&2
    exit 2
fi
set --
for name in RUN_ID ROUND SPOKE_ID TRAINER_MODE HUB_BUCKET HUB_KMS_KEY_ID DATA_BUCKET DATA_KEY CONFIG_SHA256 \
            AWS_REGION AWS_DEFAULT_REGION AWS_CONTAINER_CREDENTIALS_RELATIVE_URI; do
    # The names are the literals above; a value is expanded inside double quotes, never evaluated.
    if eval "[ -n \"\${$name+set}\" ]"; then
        eval "set -- \"\$@\" \"$name=\${$name}\""
    fi
done
exec $ENV_COMMAND -i PATH=/opt/venv/bin:/usr/bin:/bin HOME=/home/trainer LANG=C.UTF-8 \
    LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64 "$@" "$PYTHON" -I -m containers.trainer
