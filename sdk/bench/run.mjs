// The SDK benchmark lands with the SDK issue (#3); until then this says so instead of printing a figure.
console.log('@spendline/sdk bench: no benchmark yet (arrives with the SDK issue); nothing measured.');
