// The sidecar benchmark lands with the sidecar issue (#4); until then this says so instead of printing a figure.
console.log('@spendline/sidecar bench: no benchmark yet (arrives with the sidecar issue); nothing measured.');
